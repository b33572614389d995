"""Thermochemistry at 298.15 K: enthalpies of formation, entropies, heat capacities.

The TRC gas table is not read: its Hfg is at 0 K, not 298 K.
"""
from __future__ import annotations

from chemicals import heat_capacity as hc

from .records import concat, frame, from_column
from .tables import note_file
from .tasks import T_REF

CRC = "CRC Standard Thermodynamic Properties of Chemical Substances.tsv"
WEBBOOK = "webbook_constants.tsv"
POLING = "PolingDatabank.tsv"


def hf_gas(ctx):
    t = "hf_gas"
    return concat([
        from_column("ATcT 1.112 (g).tsv", "Hfg", t, "ATcT", "measured", 1e-3),
        from_column(CRC, "Hfg", t, "CRC", "measured", 1e-3),
        from_column(WEBBOOK, "Hfg", t, "WebBook", "measured", 1e-3),
        from_column("API TDB Albahri Hf (g).tsv", "Hfg", t, "API-TDB", "compiled", 1e-3),
        from_column("Yaws Hf S0 (g).tsv", "Hfg", t, "Yaws", "compiled", 1e-3),
    ])


def hf_liquid(ctx):
    t = "hf_liquid"
    return concat([
        from_column(CRC, "Hfl", t, "CRC", "measured", 1e-3),
        from_column(WEBBOOK, "Hfl", t, "WebBook", "measured", 1e-3),
        from_column("ATcT 1.112 (l).tsv", "Hfl", t, "ATcT", "measured", 1e-3),
    ])


def hf_solid(ctx):
    t = "hf_solid"
    return concat([
        from_column(CRC, "Hfs", t, "CRC", "measured", 1e-3),
        from_column(WEBBOOK, "Hfs", t, "WebBook", "measured", 1e-3),
    ])


def s0_gas(ctx):
    t = "s0_gas"
    return concat([
        from_column(CRC, "S0g", t, "CRC", "measured"),
        from_column(WEBBOOK, "S0g", t, "WebBook", "measured"),
        from_column("Yaws Hf S0 (g).tsv", "S0g", t, "Yaws", "compiled"),
    ])


def s0_liquid(ctx):
    return concat([from_column(CRC, "S0l", "s0_liquid", "CRC", "measured"),
                   from_column(WEBBOOK, "S0l", "s0_liquid", "WebBook", "measured")])


def cp_gas_298(ctx):
    t = "cp_gas_298"
    return concat([
        from_column(CRC, "Cpg", t, "CRC", "measured"),
        from_column(POLING, "Cpg", t, "Poling", "measured"),
    ])


def _zabransky():
    """Zabransky liquid heat-capacity fits (isobaric and saturation) valid at 298.15 K."""
    note_file("Zabransky.tsv")  # parsed by chemicals.heat_capacity into fit objects
    cas, values = [], []
    for table in (hc.zabransky_dict_const_s, hc.zabransky_dict_const_p,
                  hc.zabransky_dict_sat_s, hc.zabransky_dict_sat_p):
        for key, fit in table.items():
            if key and fit.Tmin <= T_REF <= fit.Tmax:
                cas.append(key)
                values.append(fit.calculate(T_REF))
    return frame(cas, values, "cp_liquid_298", "Zabransky", "computed")


def cp_liquid_298(ctx):
    t = "cp_liquid_298"
    return concat([
        from_column(CRC, "Cpl", t, "CRC", "measured"),
        from_column(POLING, "Cpl", t, "Poling", "measured"),
        _zabransky(),
    ])


PRODUCERS = {f.__name__: f for f in (hf_gas, hf_liquid, hf_solid, s0_gas, s0_liquid,
                                      cp_gas_298, cp_liquid_298)}
