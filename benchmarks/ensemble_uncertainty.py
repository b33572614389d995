"""Issue 20: does an ensemble's std say where its errors are large?

Trains ``molgate train --ensemble-size 5`` (MTL) on the reference10 suite (one scaffold split,
seed 0, at most MAX_PER_TASK training labels per task, EPOCHS epochs) and, per task, measures on the
test split the Spearman rank correlation of |error| (mean prediction vs label) against the members'
std, with the test RMSE of the molecules in the lower and upper half of the std. A positive
correlation means the std ranks molecules by how far to trust them.

    cd benchmarks && ../.venv/bin/python ensemble_uncertainty.py [MAX_PER_TASK] [EPOCHS]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from common import WORK, suite_dir, write_result
from molgate import api
from molgate.data.splits import cap_train_per_task, make_split, save_split
from molgate.data.table import read_table

MEMBERS = 5


def main(max_per_task: int = 300, epochs: int = 15) -> None:
    data = suite_dir("reference10") / "suite.parquet"
    table, _ = read_table(data)
    split = cap_train_per_task(table, make_split(table, "scaffold", 0), max_per_task, 0)
    folder = WORK / "ensemble_uncertainty"
    split_file = save_split(split, table, folder / "split.json")
    model = folder / "model"
    api.train(data, method="mtl", split_file=split_file, out=model, seed=0, epochs=epochs,
              patience=max(3, epochs // 3), ensemble_size=MEMBERS, progress=False)
    test = pd.read_csv(model / "test_set.csv")
    pred = api.predict(model, model / "test_set.csv", domain=False)
    rows = {}
    for task in table.tasks:
        labelled = test[task].notna().to_numpy()
        error = np.abs(pred[task].to_numpy()[labelled] - test[task].to_numpy()[labelled])
        std = pred[f"{task}_std"].to_numpy()[labelled]
        rho, p = spearmanr(std, error)
        low = std <= np.median(std)
        rows[task] = {"n": int(labelled.sum()), "spearman": float(rho), "p_value": float(p),
                      "rmse_low_std": float(np.sqrt((error[low] ** 2).mean())),
                      "rmse_high_std": float(np.sqrt((error[~low] ** 2).mean()))}
    frame = pd.DataFrame(rows).T
    print(frame.to_string(float_format=lambda v: f"{v:.3g}"))
    write_result("ensemble_uncertainty", {
        "setting": {"members": MEMBERS, "method": "mtl", "split": "scaffold", "seed": 0,
                    "max_per_task": max_per_task, "epochs": epochs},
        "tasks": rows,
        "median_spearman": float(frame["spearman"].median()),
        "positive_tasks": int((frame["spearman"] > 0).sum()),
    })


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
