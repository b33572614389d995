"""The table ``molgate predict`` writes: one row per input row, in input order.

A user matches predictions to their data by row, so nothing may drop, reorder or merge rows: a
rejected SMILES keeps its row with empty predictions and the reason, and duplicate SMILES keep
their own rows. The input's columns are kept (as Chemprop does), or only the SMILES and the
``id_columns`` asked for; an input column named like a task is replaced by the prediction, as
Chemprop does too, with a warning.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from molgate.data.table import Reject
from molgate.errors import InputError

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
