"""The table ``molgate predict`` writes: one row per input row, in input order.

A user matches predictions to their data by row, so nothing may drop, reorder or merge rows: a
rejected SMILES keeps its row with empty predictions and the reason, and duplicate SMILES keep
their own rows. The input's columns are kept (as Chemprop does), or only the SMILES and the
``id_columns`` asked for; an input column named like a task is replaced by the prediction, as
Chemprop does too, with a warning. An ensemble adds ``<task>_std`` (:mod:`molgate.ensemble`), and
the applicability domain ``nn_similarity`` / ``in_domain`` is added as ``molgate screen`` does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from rdkit import Chem

from molgate.data.table import Reject, read_smiles, write_rejects
from molgate.ensemble import mean_and_std, member_dirs
from molgate.errors import InputError
from molgate.outputs import check_output_file
from molgate.screen.domain import (DEFAULT_THRESHOLD, NearestNeighbourIndex, fingerprint_generator,
                                   fingerprints, training_smiles)
from molgate.train.checkpoint import read_config, trained_on_largest_fragment

logger = logging.getLogger("molgate")

REASON = "reason"


def prediction_frame(frame: pd.DataFrame, smiles_column: str, values: np.ndarray, predicted: list[int],
                     tasks: list[str], id_columns: list[str] | None = None,
                     rejects: list[Reject] | None = None, file: str = "", std: np.ndarray | None = None,
                     similarity: np.ndarray | None = None, threshold: float = DEFAULT_THRESHOLD
                     ) -> pd.DataFrame:
    """``frame`` (the input) with one column per task; ``values[j]`` belongs to input row
    ``predicted[j]``. An ensemble's ``std`` follows each task as ``<task>_std``, the domain
    ``similarity`` gives ``nn_similarity`` and ``in_domain`` (as in ``molgate screen``), and with
    ``rejects`` (``--on-invalid skip``) a ``reason`` column says why a row has no prediction."""
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
    rows = np.asarray(predicted, dtype=int)

    def spread(per_row: np.ndarray | None, width: int) -> np.ndarray:
        full = np.full((len(frame), width), np.nan)
        if len(rows) and per_row is not None:
            full[rows] = np.asarray(per_row, dtype=float).reshape(len(rows), width)
        return full

    mean = spread(values, len(tasks))
    deviation = spread(std, len(tasks)) if std is not None else None
    for k, task in enumerate(tasks):
        out[task] = mean[:, k]
        if deviation is not None:
            out[f"{task}_std"] = deviation[:, k]
    if similarity is not None:
        sim = spread(similarity, 1)[:, 0]
        out["nn_similarity"] = sim
        out["in_domain"] = pd.array([None if np.isnan(v) else bool(v >= threshold) for v in sim],
                                    dtype="boolean")
    if rejects is not None:
        reasons = [""] * len(frame)
        for r in rejects:
            reasons[r.row - 1] = r.reason
        out[REASON] = reasons
    return out.reset_index(drop=True)


def predict_file(load: Callable, model: str | Path, data: str | Path, out: str | Path | None = None,
                 smiles_column: str | None = None, on_invalid: str = "error", batch_size: int = 256,
                 id_columns: list[str] | None = None, largest_fragment: bool | None = None,
                 domain: bool = True, domain_threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Predict every row of ``data`` with the estimators ``load(dir)`` of the model folder and its
    ensemble members (:mod:`molgate.ensemble`), and write ``out``.

    ``out`` is checked before any work (not a folder, not the input); the SMILES column defaults
    to the one used in training, and ``largest_fragment=None`` to what training did.
    """
    if out is not None:
        check_output_file(out, [data])
    dirs = member_dirs(model)
    estimators = [load(d) for d in dirs]
    tasks = estimators[0].tasks_
    config = read_config(model)
    column = smiles_column or config.get("data", {}).get("smiles_column", "smiles")
    if largest_fragment is None:
        largest_fragment = trained_on_largest_fragment(model)
    frame, smiles, rejects = read_smiles(data, column, on_invalid, largest_fragment)
    keep = [i for i, s in enumerate(smiles) if s is not None]
    valid = [smiles[i] for i in keep]
    if keep:
        values, std = mean_and_std([e.predict(valid, batch_size) for e in estimators])
    else:
        values, std = np.zeros((0, len(tasks))), (np.zeros((0, len(tasks))) if len(dirs) > 1 else None)
    similarity = domain_similarity(dirs, valid) if domain else None
    result = prediction_frame(frame, column, values, keep, tasks, id_columns,
                              rejects if on_invalid == "skip" else None, str(data), std, similarity,
                              domain_threshold)
    if out is not None:
        write_rejects(rejects, out)
        write_frame(result, out)
    return result


def domain_similarity(model_dirs: list[Path], smiles: list[str]) -> np.ndarray:
    """Each molecule's Tanimoto similarity to its nearest training molecule (the screen's measure)."""
    reference = sorted({s for d in model_dirs for s in training_smiles(d)})
    if not reference:
        logger.warning("no training molecules found beside the model: nn_similarity is 0")
    index = NearestNeighbourIndex(fingerprints(reference))
    generator = fingerprint_generator()
    return np.array([index.nearest(generator.GetFingerprint(Chem.MolFromSmiles(s))) for s in smiles],
                    dtype=np.float64)


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV, or Parquet for a ``.parquet``/``.pq`` name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
