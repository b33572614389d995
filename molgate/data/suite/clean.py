"""Record-level cleaning after CAS -> SMILES: plausibility windows, the Common Chemistry boiling
point rule and the melting-point guard for liquid-phase values computed at 298.15 K."""
from __future__ import annotations

import pandas as pd

from .tasks import T_REF, TASKS

# Correlations evaluated at 298.15 K that only make sense for a liquid.
LIQUID_298_TASKS = ("viscosity_298", "surface_tension_298", "liquid_density_298", "hvap_298",
                    "log10_psat_298", "thermal_conductivity_liquid_298", "cp_liquid_298")
PREFERRED_TB_SOURCES = ("CRC", "WebBook")
COMMON_CHEMISTRY = "CAS Common Chemistry"
TB_TOLERANCE = 20.0  # K; ~3% of Common Chemistry Tb sit >= 20 K low (reduced-pressure values)


def _count(dropped: pd.DataFrame) -> dict[str, int]:
    return {k: int(v) for k, v in dropped["task"].value_counts().items()}


def apply_windows(rec: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop values outside each task's plausibility window (unit and typo errors)."""
    lo = rec["task"].map({n: t.window[0] for n, t in TASKS.items()})
    hi = rec["task"].map({n: t.window[1] for n, t in TASKS.items()})
    ok = (rec["value"] >= lo) & (rec["value"] <= hi)
    return rec[ok], _count(rec[~ok])


def prefer_crc_webbook_tb(rec: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop Common Chemistry boiling points more than TB_TOLERANCE from the CRC/WebBook median."""
    tb = rec["task"] == "boiling_point"
    ref = (rec[tb & rec["source"].isin(PREFERRED_TB_SOURCES)]
           .groupby("smiles")["value"].median())
    cc = tb & (rec["source"] == COMMON_CHEMISTRY)
    if not cc.any() or ref.empty:
        return rec, 0
    diff = (rec.loc[cc, "value"] - rec.loc[cc, "smiles"].map(ref).astype("float64")).abs()
    bad = diff.index[diff > TB_TOLERANCE]
    return rec.drop(index=bad), len(bad)


def melting_guard(rec: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int], dict[str, int]]:
    """Drop computed liquid-phase values at 298.15 K for molecules whose melting point is above.

    Returns the kept records, dropped records per task and molecules that lost the task.
    """
    tm = rec[rec["task"] == "melting_point"].groupby("smiles")["value"].median()
    solid = set(tm.index[tm > T_REF])
    hit = (rec["task"].isin(LIQUID_298_TASKS) & (rec["kind"] == "computed")
           & rec["smiles"].isin(solid))
    kept = rec[~hit]
    lost = (rec[hit][["smiles", "task"]].drop_duplicates()
            .merge(kept[["smiles", "task"]].drop_duplicates(), how="left", indicator=True))
    lost = lost[lost["_merge"] == "left_only"]
    return kept, _count(rec[hit]), _count(lost)
