"""Issue 19: why does add-task not beat fine-tuning? The loss terms' values and gradient shares.

Adds small tasks to the large5 GATE that ``task_addition.py`` pre-trained (scaffold seed 0), with
the per-term diagnostics on (``molgate.train.diagnostics``: each term's value and its gradient norm
on the new task's modules, and its share of the regression gradient), once with the new task's
trunk trained (the default) and once frozen (``train_trunk=False``). Reports the mean over epochs
of every term's value and share, and the test RMSE.

    cd benchmarks && ../.venv/bin/python task_addition.py --seeds 0      # the pre-trained model
    cd benchmarks && ../.venv/bin/python task_addition_diagnostics.py
    cd benchmarks && ../.venv/bin/python task_addition_diagnostics.py --alignment strong --trunks trained \
        --name diagnostics_strong
    cd benchmarks && ../.venv/bin/python task_addition_diagnostics.py --alignment addition --trunks trained \
        --name diagnostics_addition      # add-task's own default (beta 100, no distance term)
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from common import RESULTS, WORK, machine

from molgate import api
from molgate.benchmark.plan import STRONG_ALIGNMENT
from molgate.train.checkpoint import read_config

PRETRAINED = WORK / "task_addition_v2" / "large5" / "seed{seed}" / "large5" / "pretrained-gate"
DATA = WORK / "task_addition_v2" / "data"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", nargs="+", default=["dielectric_constant", "parachor", "viscosity_298"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--name", default="diagnostics", help="results/task_addition_v2/<name>.json")
    p.add_argument("--alignment", choices=["default", "strong", "addition"], default="default",
                   help="default: the pre-trained model's settings; strong: the alignment trial's raw "
                        "weights (benchmark method add-task-strong); addition: add-task's own default")
    p.add_argument("--trunks", nargs="+", choices=["trained", "frozen"], default=["trained", "frozen"])
    a = p.parse_args()
    alignment = STRONG_ALIGNMENT if a.alignment == "strong" else None
    pretrained = str(PRETRAINED).format(seed=a.seed)
    split_file = RESULTS / "reference10_v2" / "splits" / f"scaffold_seed{a.seed}.json"
    rows = []
    for task in a.tasks:
        for train_trunk in [t == "trained" for t in a.trunks]:
            out = WORK / "task_addition_diagnostics" / f"{task}_{'trained' if train_trunk else 'frozen'}_trunk_{a.alignment}"
            api.add_task(pretrained, DATA / f"{task}.csv", task, out, split_file=split_file, seed=a.seed,
                         epochs=a.epochs, patience=6, progress=False, diagnostics=True,
                         train_trunk=train_trunk, overwrite=True, alignment=alignment,
                         alignment_defaults="addition" if a.alignment == "addition" else "model")
            metrics = pd.read_csv(next(out.rglob("metrics.csv")))
            cols = [c for c in metrics.columns if c.startswith("diag_") and c.endswith(("_value", "_share"))]
            rmse = api.evaluate(out, plots=False)[task]["rmse"]
            row = {"task": task, "train_trunk": train_trunk, "alignment": a.alignment, "test_rmse": rmse,
                   "epochs": int(read_config(out)["added_tasks"][-1]["fit"]["epochs_run"]),
                   **{c.removeprefix("diag_"): float(metrics[c].mean()) for c in cols}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    frame = pd.DataFrame(rows)
    print(frame.to_string(float_format=lambda v: f"{v:.4g}"))
    path = RESULTS / "task_addition_v2" / f"{a.name}.json"
    path.write_text(json.dumps({"machine": machine(), "seed": a.seed, "command": " ".join(sys.argv),
                                "rows": rows}, indent=1))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
