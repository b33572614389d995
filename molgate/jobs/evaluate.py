"""Score a model directory on its own test split: the part of ``molgate evaluate`` that
``pretrain`` shares (metrics.json and test_predictions.csv, no plots)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from molgate.estimator import PropertyRegressor, predict_array
from molgate.evaluate.metrics import evaluation_metrics, read_test_set
from molgate.train.checkpoint import read_config


class TestScore(NamedTuple):
    metrics: dict[str, dict | None]
    y_true: np.ndarray
    y_pred: np.ndarray
    graphs: list  # of the test molecules, featurised once, for the plots
    estimator: PropertyRegressor
    config: dict


def score_test_split(model_dir: str | Path) -> TestScore:
    """Test-split metrics per task in units (a task without test labels: ``null``, see
    :func:`~molgate.evaluate.metrics.evaluation_metrics`), written to ``metrics.json`` and
    ``test_predictions.csv`` in the model directory."""
    model_dir = Path(model_dir)
    est = PropertyRegressor.load(model_dir)
    config = read_config(model_dir)
    column = config.get("data", {}).get("smiles_column", "smiles")
    test_file, test = read_test_set(model_dir, [column, *est.tasks_])
    y_true = test[est.tasks_].to_numpy(dtype=np.float64)
    graphs = est._graphs(test[column].tolist(), progress=False)
    y_pred = predict_array(est.model_, graphs)
    metrics = evaluation_metrics(y_true, y_pred, est.tasks_, str(test_file))
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False))
    pd.DataFrame(y_pred, columns=est.tasks_).assign(**{column: test[column]}).to_csv(
        model_dir / "test_predictions.csv", index=False)
    return TestScore(metrics, y_true, y_pred, graphs, est, config)
