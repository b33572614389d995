"""Single-value properties: logP, refractive index, dielectric constant, dipole moment, Hansen
solubility parameters."""
from __future__ import annotations

import numpy as np
from chemicals.permittivity import permittivity_CRC

from .records import concat, evaluate, frame, from_column, inside
from .tables import column, read

HANSEN_TABLES = {
    "Hansen-Alshehri": "alshehri_hansen_solubility_parameters.tsv",
    "Hansen-HSPiPy": "hspipy_hansen_solubility_parameters.tsv",
    "Hansen-Ruben-Manuel": "ruben_manuel_hansen_solubility_parameters.tsv",
    "Hansen-Schrier": "schrier_hansen_solubility_parameters.tsv",
}


def logP(ctx):
    return concat([from_column("Syrres logP data.csv.gz", "logP", "logP", "Syrres", "measured"),
                   from_column("CRC logP table.tsv", "logP", "logP", "CRC", "measured")])


def refractive_index(ctx):
    """CRC n_D: the RI table where its temperature is 15-25 C, and the n_D column of CRC's
    organic constants table (20 C unless noted) unless the RI table gives another temperature."""
    df = read("CRC Handbook Organic RI.csv")
    rit = column(df, "RIT")
    ok = (rit >= 288.15) & (rit <= 298.15)
    ri = column(df, "RI")
    ri[~ok] = float("nan")
    other_t = set(df.index[~ok & ~np.isnan(rit)])
    org = read("Physical Constants of Organic Compounds.csv")
    nd = column(org, "RI")
    nd[org.index.isin(other_t)] = float("nan")
    return concat([frame(df.index, ri, "refractive_index", "CRC", "measured"),
                   frame(org.index, nd, "refractive_index", "CRC", "measured")])


def dielectric_constant(ctx):
    """CRC permittivity measured at 20-30 C; where the table has no such value, CRC's own fit
    of the measurements evaluated at 298.15 K inside its stated range."""
    df = read("Permittivity (Dielectric Constant) of Liquids.tsv")
    T = column(df, "T")
    eps = column(df, "Permittivity")
    near = (T >= 292.5) & (T <= 303.5) & np.isfinite(eps)  # table uses 293.2, 303.2
    eps[~near] = np.nan
    fit_ok = ~near & inside(column(df, "Tmin"), column(df, "Tmax")) & np.isfinite(column(df, "A"))
    coeffs = df[["A", "B", "C", "D"]].fillna(0.0)  # blank higher-order terms are zero
    fitted = evaluate(coeffs, permittivity_CRC, ["A", "B", "C", "D"], fit_ok)
    t = "dielectric_constant"
    return concat([frame(df.index, eps, t, "CRC", "measured"),
                   frame(df.index, fitted, t, "CRC", "computed")])


def dipole_moment(ctx):
    t = "dipole_moment"
    return concat([
        from_column("cccbdb.nist.gov Dipoles.csv", "dipole_moment", t, "CCCBDB", "measured"),
        from_column("Muller Supporting Info Dipoles.csv", "dipole_moment", t, "Muller",
                    "measured"),
        from_column("Poling Dipole.csv", "dipole_moment", t, "Poling", "measured"),
    ])


def _hansen(task: str, col: str):
    return concat([from_column(table, col, task, source, "semi-empirical", 1e-3)  # Pa^0.5 -> MPa^0.5
                   for source, table in HANSEN_TABLES.items()])


def hansen_dD(ctx):
    return _hansen("hansen_dD", "HANSEN_DELTA_D")


def hansen_dP(ctx):
    return _hansen("hansen_dP", "HANSEN_DELTA_P")


def hansen_dH(ctx):
    return _hansen("hansen_dH", "HANSEN_DELTA_H")


PRODUCERS = {f.__name__: f for f in (logP, refractive_index, dielectric_constant, dipole_moment,
                                      hansen_dD, hansen_dP, hansen_dH)}
