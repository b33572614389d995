"""Critical constants and the acentric factor (measured: IUPAC, CRC, WebBook; compiled: DIPPR,
PSRK, HEOS, Passut-Danner, Yaws). Prediction tables (Wilson-Jasperson, Fedors) are never read."""
from __future__ import annotations

from .records import concat, from_column
from .tables import read

# table, source name, kind
_TABLES = [
    ("IUPACOrganicCriticalProps.tsv", "IUPAC", "measured"),
    ("CRCCriticalOrganics.tsv", "CRC", "measured"),
    ("webbook_constants.tsv", "WebBook", "measured"),
    ("DIPPRPinaMartines.tsv", "DIPPR", "compiled"),
    ("Appendix to PSRK Revision 4.tsv", "PSRK", "compiled"),
    ("heos_constants.tsv", "HEOS", "compiled"),
    ("PassutDanner1973.tsv", "Passut-Danner", "compiled"),
    ("Yaws Collection.tsv", "Yaws", "compiled"),
]


def _critical(task: str, col: str, scale: float, skip=()):
    parts = []
    for table, source, kind in _TABLES:
        if source in skip or col not in read(table).columns:
            continue
        parts.append(from_column(table, col, task, source, kind, scale))
    return concat(parts)


def critical_temperature(ctx):
    return _critical("critical_temperature", "Tc", 1.0)


def critical_pressure(ctx):
    return _critical("critical_pressure", "Pc", 1e-5)  # Pa -> bar


def critical_volume(ctx):
    return _critical("critical_volume", "Vc", 1e6)  # m3/mol -> cm3/mol


def acentric_factor(ctx):
    return _critical("acentric_factor", "omega", 1.0)


PRODUCERS = {f.__name__: f for f in (critical_temperature, critical_pressure, critical_volume,
                                      acentric_factor)}
