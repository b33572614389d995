"""Aggregate duplicate records (several sources, or several CAS for one SMILES) by median,
keeping the record count and the spread (max - min) so noisy labels can be flagged."""
from __future__ import annotations

import pandas as pd

LONG_COLUMNS = ["smiles", "task", "value", "n_records", "spread", "sources"]


def aggregate(rec: pd.DataFrame) -> pd.DataFrame:
    if rec.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            LONG_COLUMNS, ["object", "object", "float64", "int64", "float64", "object"])})
    grouped = rec.groupby(["smiles", "task"], sort=True)["value"]
    out = grouped.agg(value="median", n_records="size", lo="min", hi="max")
    out["spread"] = out.pop("hi") - out.pop("lo")
    sources = (rec[["smiles", "task", "source"]].drop_duplicates()
               .sort_values(["smiles", "task", "source"])
               .groupby(["smiles", "task"], sort=True)["source"].agg(";".join))
    out["sources"] = sources
    out = out.reset_index()
    out["n_records"] = out["n_records"].astype("int64")
    return out[LONG_COLUMNS]


def to_wide(long: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """One row per SMILES, one float column per task (NaN where unknown), in `tasks` order."""
    wide = long.pivot(index="smiles", columns="task", values="value")
    wide = wide.reindex(columns=tasks).astype("float64").sort_index()
    wide.columns.name = None
    return wide.reset_index()
