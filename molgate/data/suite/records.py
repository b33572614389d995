"""Record frames: one row per (CAS, task, value, source, kind), the common currency of families.

Families turn chemicals tables into records in the task's unit; the builder maps CAS to SMILES,
filters and aggregates. Kinds: measured, compiled, computed (a correlation evaluated at
298.15 K inside its validity range), semi-empirical (Hansen) and derived (parachor).
"""
from __future__ import annotations

from functools import cached_property
from typing import Iterable

import numpy as np
import pandas as pd

from .identifiers import cas_to_int, pubchem_index
from .tables import column, read
from .tasks import T_REF

COLUMNS = ["cas", "task", "value", "source", "kind"]
MEASURED_KINDS = frozenset({"measured", "semi-empirical"})


def frame(cas: Iterable, values, task: str, source: str, kind: str) -> pd.DataFrame:
    """Records for one task from one source; drops NaN/inf values and malformed CAS numbers."""
    cas_int = np.fromiter((cas_to_int(c) for c in cas), dtype=np.int64)
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values) & (cas_int > 0)
    n = int(keep.sum())
    return pd.DataFrame({"cas": cas_int[keep], "task": [task] * n, "value": values[keep],
                         "source": [source] * n, "kind": [kind] * n})


def from_column(table: str, col: str, task: str, source: str, kind: str,
                scale: float = 1.0) -> pd.DataFrame:
    """Records from one column of a chemicals table, multiplied by `scale` (unit conversion)."""
    df = read(table)
    return frame(df.index, column(df, col) * scale, task, source, kind)


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(COLUMNS, ["int64", "object", "float64", "object", "object"])})
    return pd.concat(frames, ignore_index=True)


def inside(tmin, tmax, T: float = T_REF) -> np.ndarray:
    """True where T lies in the stated range [tmin, tmax].

    A bound the table leaves blank does not restrict (the melting-point guard still removes
    solids), but a fit with no stated bound at all is never used.
    """
    tmin = np.asarray(tmin, dtype=float)
    tmax = np.asarray(tmax, dtype=float)
    stated = ~(np.isnan(tmin) & np.isnan(tmax))
    return stated & ~(tmin > T) & ~(T > tmax)


def evaluate(df: pd.DataFrame, func, args: list[str], ok: np.ndarray, T: float = T_REF,
             **kwargs) -> np.ndarray:
    """Evaluate `func(T, *row[args])` on the rows where `ok`, NaN elsewhere or on failure."""
    out = np.full(len(df), np.nan)
    cols = [column(df, a) for a in args]
    with np.errstate(all="ignore"):
        for i in np.flatnonzero(ok):
            try:
                out[i] = func(T, *(c[i] for c in cols), **kwargs)
            except (ValueError, ZeroDivisionError, OverflowError):
                pass
    return out


class Context:
    """Lookups shared by the families: molecular weights and VDI's stated validity range."""

    @cached_property
    def molecular_weights(self) -> dict[int, float]:
        return {cas: float(obj.MW) for cas, obj in pubchem_index().items()}

    def mw(self, cas: Iterable) -> np.ndarray:
        table = self.molecular_weights
        return np.array([table.get(cas_to_int(c), np.nan) for c in cas], dtype=float)

    @cached_property
    def vdi_range(self) -> pd.DataFrame:
        """VDI Heat Atlas PPDS fits hold from the melting point to the critical point.

        The VDI viscosity and conductivity tables do not repeat that range, so it is taken from
        the VDI tables that do (boiling temperatures and surface tensions), by CAS.
        """
        parts = []
        for key in ("VDI PPDS Boiling temperatures at different pressures.tsv",
                    "VDI PPDS surface tensions.tsv"):
            df = read(key)
            parts.append(pd.DataFrame({"Tmin": column(df, "Tm"), "Tmax": column(df, "Tc")},
                                      index=df.index))
        out = pd.concat(parts)
        return out[~out.index.duplicated(keep="first")]

    def vdi_ok(self, df: pd.DataFrame, T: float = T_REF) -> np.ndarray:
        rng = self.vdi_range.reindex(df.index)
        ok = inside(rng["Tmin"], rng["Tmax"], T)
        if "Tc" in df.columns:
            ok &= column(df, "Tc") > T
        return ok
