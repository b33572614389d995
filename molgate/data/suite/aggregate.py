"""Aggregate duplicate records (several sources, or several CAS for one SMILES) by median,
keeping the record count and the spread (max - min) so noisy labels can be flagged."""
from __future__ import annotations

import numpy as np
import pandas as pd

LONG_COLUMNS = ["smiles", "task", "value", "n_records", "spread", "sources"]


def aggregate(rec: pd.DataFrame) -> pd.DataFrame:
    if rec.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            LONG_COLUMNS, ["object", "object", "float64", "int64", "float64", "object"])})
    grouped = rec.groupby(["smiles", "task"], sort=True)["value"]
    out = grouped.agg(value="median", n_records="size", lo="min", hi="max")
    out["spread"] = out.pop("hi") - out.pop("lo")
    out["sources"] = _joined_sources(rec)
    out = out.reset_index()
    out["n_records"] = out["n_records"].astype("int64")
    return out[LONG_COLUMNS]


def _joined_sources(rec: pd.DataFrame) -> pd.Series:
    """';'-joined sorted distinct sources per (smiles, task); np.add.reduceat concatenates the
    strings of each group in one pass (a Python join per group costs seconds on the suite)."""
    src = (rec[["smiles", "task", "source"]].drop_duplicates()
           .sort_values(["smiles", "task", "source"]).reset_index(drop=True))
    new = ((src["smiles"] != src["smiles"].shift()) | (src["task"] != src["task"].shift()))
    starts = np.flatnonzero(new.to_numpy())
    joined = np.add.reduceat((src["source"] + ";").to_numpy(object), starts)
    index = pd.MultiIndex.from_frame(src.loc[starts, ["smiles", "task"]])
    return pd.Series([s[:-1] for s in joined], index=index, dtype=src["source"].dtype)


def to_wide(long: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """One row per SMILES, one float column per task (NaN where unknown), in `tasks` order."""
    wide = long.pivot(index="smiles", columns="task", values="value")
    wide = wide.reindex(columns=tasks).astype("float64").sort_index()
    wide.columns.name = None
    return wide.reset_index()
