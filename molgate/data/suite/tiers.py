"""Source tiers: how much each aggregated value can be trusted.

Every (SMILES, task) value gets
- `tier`: measured, compiled or estimated (the best kind among its records: a measured record
  beats a compilation, which beats an estimate);
- `corroborated`: True when two independent sources agree within the task's tolerance;
- a reliability score used by the consistency rules to decide which value of an inconsistent
  pair to flag (the uncorroborated, lower-graded, fewer-sourced one).

The point is that a label seen in one record only (a CAS Common Chemistry melting point that is
really the salt's, a Yaws boiling point that is an estimate) should lose against a label two
sources agree on, and that the user can ask for corroborated labels only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .tasks import TASKS

TIERS = ("measured", "compiled", "estimated")
# Record kind -> tier. A correlation evaluated at 298.15 K ("computed") and the semi-empirical
# Hansen fits summarise measurements made by others: compiled. The derived parachor is an
# estimate from other labels of this suite.
TIER_OF_KIND = {"measured": "measured", "compiled": "compiled", "computed": "compiled",
                "semi-empirical": "compiled", "derived": "estimated"}

# Source grade: 2 critically evaluated (data checked against each other by the compilers),
# 1 reviewed compilation, 0 single records, crowd-sourced, estimate-mixing or derived values.
_GRADE_2 = ("IUPAC", "ATcT", "CRC", "WebBook", "DIPPR", "DIPPR-Serat", "VDI", "Staveley",
            "Jasper-Lange", "Mulero-Cachadina", "Poling", "Zabransky", "CCCBDB", "McGarry",
            "IEC 60079-20-1", "FreeSolv")
_GRADE_0 = ("CAS Common Chemistry", "Wikidata", "Yaws", "derived")
GRADE_1_DEFAULT = 1


def source_grade(source: str) -> int:
    if source in _GRADE_2:
        return 2
    if source in _GRADE_0:
        return 0
    return GRADE_1_DEFAULT


def family(source: str) -> str:
    """Sources that copy each other count as one: the four Hansen tables all descend from
    Hansen's handbook. The derived parachor is not an independent observation of anything."""
    return "Hansen" if source.startswith("Hansen-") else source


# Corroboration tolerance per task: (absolute, relative); two values agree when they differ by
# at most max(absolute, relative * |value|). Set near the typical between-laboratory scatter.
TOLERANCE: dict[str, tuple[float, float]] = {
    "melting_point": (2.0, 0), "boiling_point": (2.0, 0), "density": (0, 0.01),
    "critical_temperature": (3.0, 0), "critical_pressure": (0, 0.03),
    "critical_volume": (0, 0.03), "hf_gas": (4.0, 0), "logP": (0.2, 0),
    "refractive_index": (0.002, 0), "acentric_factor": (0.02, 0), "s0_gas": (3.0, 0),
    "hvap_298": (0, 0.03), "hf_liquid": (4.0, 0), "hf_solid": (4.0, 0), "hsub": (0, 0.05),
    "log10_psat_298": (0.05, 0), "hansen_dD": (0.5, 0), "hansen_dP": (0.5, 0),
    "hansen_dH": (0.5, 0), "flash_point": (3.0, 0), "dielectric_constant": (0, 0.03),
    "triple_point_T": (1.0, 0), "parachor": (0, 0.02), "cp_liquid_298": (0, 0.02),
    "hydration_free_energy": (0.3, 0), "surface_tension_298": (0, 0.03),
    "viscosity_298": (0.03, 0), "dipole_moment": (0.1, 0), "hfus": (0, 0.05),
    "hvap_Tb": (0, 0.03), "s0_liquid": (3.0, 0), "cp_gas_298": (0, 0.02),
    "liquid_density_298": (0, 0.01), "autoignition_T": (10.0, 0),
    "thermal_conductivity_liquid_298": (0, 0.03), "LFL": (0.2, 0), "UFL": (0, 0.1),
    "RON": (2.0, 0), "MON": (2.0, 0), "cetane_number": (3.0, 0),
}
assert set(TOLERANCE) == set(TASKS), set(TOLERANCE) ^ set(TASKS)


def tolerance(task: pd.Series, value: pd.Series) -> np.ndarray:
    """Per-row corroboration tolerance in the task's unit."""
    absolute = task.map({t: a for t, (a, _) in TOLERANCE.items()}).to_numpy(float)
    relative = task.map({t: r for t, (_, r) in TOLERANCE.items()}).to_numpy(float)
    return np.maximum(absolute, relative * np.abs(value.to_numpy(float)))


def _corroborated(rec: pd.DataFrame) -> pd.Series:
    """(smiles, task) -> True where two independent source families agree within tolerance.

    One value per family (its median); sorted by value, the closest two families are
    neighbours in that order, so checking adjacent gaps finds any agreeing pair.
    """
    indep = rec[rec["source"] != "derived"].assign(family=lambda d: d["source"].map(family))
    per = (indep.groupby(["smiles", "task", "family"], sort=True)["value"].median()
           .reset_index().sort_values(["smiles", "task", "value"], kind="stable"))
    same = ((per["smiles"] == per["smiles"].shift()) & (per["task"] == per["task"].shift()))
    gap = per["value"] - per["value"].shift()
    mid = (per["value"] + per["value"].shift()) / 2
    ok = same & (gap <= tolerance(per["task"], mid.fillna(per["value"])))
    return per.assign(ok=ok).groupby(["smiles", "task"], sort=True)["ok"].any()


def annotate(rec: pd.DataFrame, long: pd.DataFrame) -> pd.DataFrame:
    """Add `tier`, `corroborated` and the internal `score` columns to the aggregated `long`.

    `rec` holds the records (smiles, task, value, source, kind) that `long` aggregates.
    """
    rank = {t: i for i, t in enumerate(TIERS)}
    tier_rank = (rec.assign(r=rec["kind"].map(TIER_OF_KIND).map(rank))
                 .groupby(["smiles", "task"], sort=True)["r"].min())
    grade = (rec.assign(g=rec["source"].map(source_grade))
             .groupby(["smiles", "task"], sort=True)["g"].max())
    key = pd.MultiIndex.from_frame(long[["smiles", "task"]])
    out = long.copy()
    out["tier"] = [TIERS[int(r)] for r in tier_rank.reindex(key).to_numpy()]
    out["corroborated"] = _corroborated(rec).reindex(key, fill_value=False).to_numpy(bool)
    n_sources = out["sources"].str.count(";") + 1
    # Lexicographic: corroboration, then the best source's grade, then the number of sources.
    out["score"] = (100 * out["corroborated"].astype(int) + 10 * grade.reindex(key).to_numpy()
                    + np.minimum(n_sources, 9)).astype("int64")
    return out
