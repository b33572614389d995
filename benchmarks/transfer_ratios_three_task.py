"""Issue 6, experiment 1: grid search vs learned transfer ratios on density, hvap_298, boiling_point.

The grid (the paper's Figure 1) trains GATE at every combination of ``--grid-values`` for the three
symmetric ratios and keeps the point with the lowest validation loss; the best point is then
retrained with the other seeds to get a std. Learned ratios train once per seed. Same capped,
balanced scaffold split for everything (seed 0 split; model seeds vary). Reports validation and
test RMSE and total compute of both, as JSON and Markdown.

    python benchmarks/transfer_ratios_three_task.py [--max-per-task 500] [--epochs 20] [--seeds 0 1 2]

Resumable: finished grid points and runs are read back from their folders under
``benchmarks/work/ratios_three_task``.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from common import RESULTS, WORK, suite_dir, write_result
from molgate import api
from molgate.data.splits import cap_train_per_task, make_split, save_split
from molgate.data.table import read_table

TASKS = ["density", "hvap_298", "boiling_point"]


def trained(out, data, **kwargs) -> tuple:
    """``(model_dir, seconds, best validation loss)``, training only if ``out`` holds no model yet."""
    if not (out / "config.json").exists():
        api.train(data, TASKS, out=out, **kwargs)
    config = json.loads((out / "config.json").read_text())
    return out, config["throughput"]["seconds"], config["fit"]["all"]["best_val_loss"]


def test_rmse(model_dir) -> dict[str, float]:
    return {t: m["rmse"] for t, m in api.evaluate(model_dir, plots=False).items()}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--max-per-task", type=int, default=500)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--grid-values", nargs="+", type=float, default=[0.0, 1.0, 3.0])
    a = p.parse_args()
    work = WORK / "ratios_three_task"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data.parquet"
    pd.read_parquet(suite_dir("all") / "suite.parquet")[["smiles", *TASKS]].dropna(how="all", subset=TASKS) \
        .to_parquet(data, index=False)
    table, _ = read_table(data)
    split = cap_train_per_task(table, make_split(table, "scaffold", 0), a.max_per_task, 0)
    split_file = save_split(split, table, work / "split.json")
    common = dict(method="gate", split_file=split_file, epochs=a.epochs, progress=False)

    grid_dir = work / "grid"
    if not (grid_dir / "grid_results.json").exists():  # resumes point by point
        api.train(data, TASKS, out=grid_dir, seed=a.seeds[0], transfer_ratios="grid",
                  grid_values=tuple(a.grid_values), **common)
    grid = json.loads((grid_dir / "grid_results.json").read_text())
    best = grid["points"][grid["best_point"]]
    ratios_file = grid_dir / "grid" / f"point{grid['best_point']:03d}.ratios.json"
    grid_seconds = grid["total_seconds"]
    grid_rmse = [test_rmse(grid_dir)]
    for seed in a.seeds[1:]:
        model_dir, _, _ = trained(work / f"grid_best_seed{seed}", data, seed=seed, transfer_ratios="fixed",
                                  ratios_file=ratios_file, **common)
        grid_rmse.append(test_rmse(model_dir))
    learned_rmse, learned_seconds, learned_val = [], 0.0, []
    for seed in a.seeds:
        model_dir, seconds, val = trained(work / f"learned_seed{seed}", data, seed=seed,
                                          transfer_ratios="learned", **common)
        learned_rmse.append(test_rmse(model_dir))
        learned_seconds += seconds
        learned_val.append(val)
    rows = []
    for t in TASKS:
        g = np.array([x[t] for x in grid_rmse])
        lr = np.array([x[t] for x in learned_rmse])
        rows.append({"task": t, "grid_best_rmse": f"{g.mean():.4g} ± {g.std():.2g}",
                     "learned_rmse": f"{lr.mean():.4g} ± {lr.std():.2g}",
                     "learned_within_one_std": bool(abs(lr.mean() - g.mean()) <= g.std())})
    frame = pd.DataFrame(rows).set_index("task")
    ratio = learned_seconds / len(a.seeds) / grid_seconds
    md = ["| task | grid best RMSE | learned RMSE | learned within one std |", "|---|---|---|---|"]
    md += [f"| {t} | {r['grid_best_rmse']} | {r['learned_rmse']} | {r['learned_within_one_std']} |"
           for t, r in frame.iterrows()]
    md += ["",
          f"grid: {len(grid['points'])} points, best validation loss {best['val_loss']:.4f}, "
          f"{grid_seconds / 60:.1f} min; learned: best validation loss {np.mean(learned_val):.4f} "
          f"(mean over seeds), {learned_seconds / len(a.seeds) / 60:.1f} min per run = "
          f"{ratio:.3f} of the grid's compute (target <= 0.1)"]
    (RESULTS / "transfer_ratios_three_task.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    write_result("transfer_ratios_three_task", {"tasks": TASKS, "grid": grid, "grid_test_rmse": grid_rmse,
                                                "learned_test_rmse": learned_rmse, "learned_val": learned_val,
                                                "learned_seconds": learned_seconds, "compute_ratio": ratio})
    return 0


if __name__ == "__main__":
    sys.exit(main())
