"""The table ``molgate predict`` writes: one row per input row, in input order.

A user matches predictions to their data by row, so nothing may drop, reorder or merge rows: a
rejected SMILES keeps its row with empty predictions and the reason, and duplicate SMILES keep
their own rows. The input's columns are kept (as Chemprop does), or only the SMILES and the
``id_columns`` asked for; an input column named like a task is replaced by the prediction, as
Chemprop does too, with a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from molgate.data.table import Reject, read_smiles, write_rejects
from molgate.errors import InputError
from molgate.outputs import check_output_file
from molgate.train.checkpoint import read_config, trained_on_largest_fragment

logger = logging.getLogger("molgate")

REASON = "reason"


def prediction_frame(frame: pd.DataFrame, smiles_column: str, values: np.ndarray, predicted: list[int],
                     tasks: list[str], id_columns: list[str] | None = None,
                     rejects: list[Reject] | None = None, file: str = "") -> pd.DataFrame:
    """``frame`` (the input) with one column per task; ``values[j]`` belongs to input row
    ``predicted[j]``; with ``rejects`` (``--on-invalid skip``) a ``reason`` column says why a
    row has no prediction."""
    keep = list(frame.columns)
    if id_columns:
        for c in id_columns:
            if c not in frame.columns:
                raise InputError(f"--id-column not in the file (columns are {list(frame.columns)})",
                                 file=file, column=c)
        keep = list(dict.fromkeys([*id_columns, smiles_column]))
    clash = [t for t in tasks if t in keep]
    if clash:
        logger.warning("%s: input column(s) %s are named like tasks; the output holds the predictions "
                       "there, as Chemprop does", file, clash)
    out = frame[keep].copy()  # a task-named column keeps its place and takes the prediction
    full = np.full((len(frame), len(tasks)), np.nan)
    if len(predicted):
        full[np.asarray(predicted, dtype=int)] = values
    for k, task in enumerate(tasks):
        out[task] = full[:, k]
    if rejects is not None:
        reasons = [""] * len(frame)
        for r in rejects:
            reasons[r.row - 1] = r.reason
        out[REASON] = reasons
    return out.reset_index(drop=True)


def predict_file(load: Callable, model: str | Path, data: str | Path, out: str | Path | None = None,
                 smiles_column: str | None = None, on_invalid: str = "error", batch_size: int = 256,
                 id_columns: list[str] | None = None, largest_fragment: bool | None = None) -> pd.DataFrame:
    """Predict every row of ``data`` with the estimator ``load(model)`` and write ``out``.

    ``out`` is checked before any work (not a folder, not the input); the SMILES column defaults
    to the one used in training, and ``largest_fragment=None`` to what training did.
    """
    if out is not None:
        check_output_file(out, [data])
    est = load(model)
    config = read_config(model)
    column = smiles_column or config.get("data", {}).get("smiles_column", "smiles")
    if largest_fragment is None:
        largest_fragment = trained_on_largest_fragment(model)
    frame, smiles, rejects = read_smiles(data, column, on_invalid, largest_fragment)
    keep = [i for i, s in enumerate(smiles) if s is not None]
    values = est.predict([smiles[i] for i in keep], batch_size) if keep else np.zeros((0, len(est.tasks_)))
    result = prediction_frame(frame, column, values, keep, est.tasks_, id_columns,
                              rejects if on_invalid == "skip" else None, str(data))
    if out is not None:
        write_rejects(rejects, out)
        write_frame(result, out)
    return result


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV, or Parquet for a ``.parquet``/``.pq`` name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
