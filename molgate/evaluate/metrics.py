"""Regression metrics per task, in original units, over the molecules that carry a label."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from molgate.errors import InputError

METRICS = ("rmse", "mae", "r2", "pearson")
logger = logging.getLogger("molgate")


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """RMSE, MAE, R^2 and Pearson r; NaN labels are ignored. Pearson is NaN for constant input."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    keep = ~np.isnan(y_true)
    t, p = y_true[keep], y_pred[keep]
    n = len(t)
    if n == 0:
        return {"n": 0, **{m: float("nan") for m in METRICS}}
    err = p - t
    ss_tot = float(((t - t.mean()) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    pearson = float(np.corrcoef(t, p)[0, 1]) if n > 1 and t.std() > 0 and p.std() > 0 else float("nan")
    return {"n": int(n), "rmse": float(np.sqrt((err**2).mean())), "mae": float(np.abs(err).mean()),
            "r2": r2, "pearson": pearson}


def task_metrics(y_true: np.ndarray, y_pred: np.ndarray, tasks: list[str]) -> dict[str, dict]:
    """``{task: {n, rmse, mae, r2, pearson}}`` for ``[n, K]`` arrays."""
    return {t: regression_metrics(y_true[:, k], y_pred[:, k]) for k, t in enumerate(tasks)}


def metrics_table(metrics: dict[str, dict | None], units: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per task; a skipped task (``None``) shows n = 0 and empty metrics."""
    empty = {"n": 0, **{m: np.nan for m in METRICS}}
    rows = {t: {k: (np.nan if v is None else v) for k, v in (m or empty).items()} for t, m in metrics.items()}
    frame = pd.DataFrame(rows, index=["n", *METRICS]).T.astype(float)
    frame["n"] = frame["n"].astype(int)
    if units:
        frame.insert(0, "unit", [units.get(t, "") for t in frame.index])
    frame.index.name = "task"
    return frame


def evaluation_metrics(y_true: np.ndarray, y_pred: np.ndarray, tasks: list[str], source: str = "test set"
                 ) -> dict[str, dict | None]:
    """:func:`task_metrics` for ``molgate evaluate``, fit for ``metrics.json``.

    A task with no labelled test molecule has no metrics: it is ``None`` (JSON ``null``) with a
    warning, rather than a row of NaN, which many JSON readers refuse. An undefined value (Pearson
    r of a constant) is ``None`` for the same reason.
    """
    out: dict[str, dict | None] = {}
    for task, m in task_metrics(y_true, y_pred, tasks).items():
        if m["n"] == 0:
            logger.warning("%s: task '%s' has no labelled test molecule; it is skipped (metrics "
                           "null, no parity plot)", source, task)
            out[task] = None
        else:
            out[task] = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in m.items()}
    return out


def read_test_set(model_dir: Path, columns: list[str]) -> tuple[Path, pd.DataFrame]:
    """The model folder's ``test_set.csv``, with the SMILES and task ``columns`` it must have."""
    path = Path(model_dir) / "test_set.csv"
    if not path.is_file():
        raise InputError("test_set.csv is missing: this folder holds no test split to evaluate on",
                         file=str(model_dir))
    try:
        test = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the test set: {exc}", file=str(path)) from None
    for name in columns:
        if name not in test.columns:
            raise InputError("missing column in the test set", file=str(path), column=name)
    return path, test
