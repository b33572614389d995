"""Issue 18, the paper's Figure 1: a grid of transfer ratios against learned ones, on density,
hvap_298 and boiling_point.

One capped, balanced scaffold split (seed 0) for every run; model seeds vary. The validation
split is cut in two (:func:`molgate.methods.transfer_ratios.split_validation`, with the run's
seed), and every run uses the parts the same way, so the grid and the learned ratios differ only
in how lambda is chosen:

* the **lambda part** chooses lambda: the learned run's hypergradient reads it; the grid's best
  point is the one with the lowest regression loss on it (per-task reduction in standardised
  units: the mean over tasks of (RMSE / training std)^2);
* the **selection part** early-stops and selects the checkpoint of every run.

The grid is every symmetric combination of ``--grid-values`` for the three pairs (27 points at
the default, model seed 0); its best point is retrained with the other seeds for a std. The
learned ratios (``--parameterization``, softmax by default; ``--outer-lr``) train once per seed;
every way of learning them shares the grid's runs. Reported: test
RMSE (mean ± std over seeds), whether learned is within one std of the grid's best, and the
compute of one learned run against the whole grid (goal <= 1/10).

    cd benchmarks && OMP_NUM_THREADS=1 ../.venv/bin/python transfer_ratios_three_task.py \
        [--max-per-task 500] [--epochs 20] [--seeds 0 1 2] [--grid-values 0 1 3] \
        [--parameterization softmax] [--outer-lr 0.05]
    # or two processes: "--only learned" then "--only grid --shard 0/2", and "--only grid --shard 1/2"

Resumable from the committed results: each finished run is a small JSON file under
``results/transfer_ratios_three_task_v2/`` (test metrics included, so no model is needed to
report); models go to ``work/`` (ignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace

import numpy as np
import pandas as pd

from common import RESULTS, WORK, suite_dir, write_result
from molgate import api
from molgate.data.splits import cap_train_per_task, load_split, make_split, save_split
from molgate.data.table import read_table
from molgate.evaluate.metrics import task_metrics
from molgate.methods.ratio_io import symmetric_grid
from molgate.methods.transfer_ratios import RatioSettings, split_validation

TASKS = ["density", "hvap_298", "boiling_point"]
OUTER_LR = RatioSettings().outer_lr


def grid_name(a) -> str:
    """The folder of the grid's runs, which do not depend on how lambda is learned."""
    default = (a.max_per_task, a.epochs, a.grid_values) == (500, 20, [0.0, 1.0, 3.0])
    values = "-".join(f"{v:g}" for v in a.grid_values)
    return "transfer_ratios_three_task_v2" if default else (
        f"transfer_ratios_three_task_cap{a.max_per_task}_ep{a.epochs}_g{values}")


def result_name(a) -> str:
    """The folder of the learned runs and the report's name: the grid's, plus any non-default way of
    learning lambda."""
    suffix = "" if a.parameterization == "softmax" else f"_{a.parameterization}"
    suffix += "" if a.outer_lr == OUTER_LR else f"_olr{a.outer_lr:g}"
    return grid_name(a) + suffix


def lambda_part_score(model_dir, table, idx, train_idx) -> float:
    """Mean over tasks of (RMSE / training std)^2 on the molecules ``idx``."""
    pred = api.PropertyRegressor.load(model_dir).predict([table.smiles[i] for i in idx])
    metrics = task_metrics(table.y[idx], pred, table.tasks)
    return float(np.mean([(metrics[t]["rmse"] / np.nanstd(table.y[train_idx, k])) ** 2
                          for k, t in enumerate(table.tasks)]))


def run(name: str, a, data, table, split, seed: int, settings: RatioSettings, mode: str,
        ratios: dict | None = None) -> dict:
    """Train one run unless its result file exists; its result (test RMSE, lambda-part score, ...)."""
    folder = result_name(a) if mode == "learned" else grid_name(a)
    result_file = RESULTS / folder / f"{name}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    work = WORK / folder
    lam_part, selection = split_validation(split.val, settings.val_fraction, seed)
    # the learned run cuts validation itself (the same cut); the others select on the selection part
    run_split = split if mode == "learned" else replace(split, val=selection)
    split_file = save_split(run_split, table, work / f"split_seed{seed}_{mode}.json")
    extra = {}
    if ratios is not None:
        ratios_file = work / f"{name}.ratios.json"
        ratios_file.write_text(json.dumps(ratios))
        extra = dict(ratios_file=ratios_file)
    out = work / name
    if out.exists():  # an unfinished run: start it again
        shutil.rmtree(out)
    api.train(data, TASKS, method="gate", split_file=split_file, epochs=a.epochs, out=out, seed=seed,
              progress=False, transfer_ratios=mode, ratio_settings=settings, **extra)
    config = json.loads((out / "config.json").read_text())
    result = {"name": name, "seed": seed, "mode": mode, "ratios": ratios,
              "seconds": config["throughput"]["seconds"],
              "best_val_loss_selection_part": config["fit"]["all"]["best_val_loss"],
              "lambda_part_score": lambda_part_score(out, table, lam_part, split.train),
              "test_rmse": {t: m["rmse"] for t, m in api.evaluate(out, plots=False).items()}}
    if mode == "learned":
        result["ratios"] = json.loads((out / "transfer_ratios.json").read_text())
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(result, indent=1))
    return result


def report(grid: list[dict], grid_best: list[dict], learned: list[dict], a) -> tuple[str, dict]:
    rows, within = [], 0
    for t in TASKS:
        g = np.array([r["test_rmse"][t] for r in grid_best])
        lr = np.array([r["test_rmse"][t] for r in learned])
        ok = bool(abs(lr.mean() - g.mean()) <= g.std())
        within += ok
        rows.append(f"| {t} | {g.mean():.4g} ± {g.std():.2g} | {lr.mean():.4g} ± {lr.std():.2g} | {ok} |")
    best = min(grid, key=lambda r: r["lambda_part_score"])
    grid_seconds = sum(r["seconds"] for r in grid)
    learned_seconds = float(np.mean([r["seconds"] for r in learned]))
    ratio = learned_seconds / grid_seconds
    lines = [f"Transfer ratios, grid against learned ({a.parameterization}, outer lr {a.outer_lr:g}) on {', '.join(TASKS)}: scaffold "
             f"split seed 0, at most {a.max_per_task} training labels per task, {a.epochs} epochs, model "
             f"seeds {a.seeds}. The lambda part of validation chooses lambda (grid point / hypergradient); "
             "the selection part selects every checkpoint.", "",
             "| task | grid best RMSE | learned RMSE | learned within one std |", "|---|---|---|---|", *rows, "",
             f"learned within one std of the grid's best on {within}/{len(TASKS)} tasks (goal 3/3); grid: "
             f"{len(grid)} points, {grid_seconds / 60:.1f} min, best point {best['name']} "
             f"(lambda-part score {best['lambda_part_score']:.4f}); learned: lambda-part score "
             f"{np.mean([r['lambda_part_score'] for r in learned]):.4f} (mean over seeds), "
             f"{learned_seconds / 60:.1f} min per run = {ratio:.3f} of the grid's compute (goal <= 0.1)", ""]
    scores = sorted(r["lambda_part_score"] for r in grid)
    lines.append(f"grid lambda-part scores: best {scores[0]:.4f}, median {np.median(scores):.4f}, "
                 f"worst {scores[-1]:.4f}")
    summary = {"tasks": TASKS, "within_one_std": within, "compute_ratio": ratio, "grid_seconds": grid_seconds,
               "best_point": best["name"], "best_ratios": best["ratios"], "grid": grid,
               "grid_best": grid_best, "learned": learned, "command": " ".join(sys.argv)}
    return "\n".join(lines) + "\n", summary


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--max-per-task", type=int, default=500)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--grid-values", nargs="+", type=float, default=[0.0, 1.0, 3.0])
    p.add_argument("--parameterization", default="softmax", choices=["softplus", "sigmoid", "softmax"])
    p.add_argument("--outer-lr", type=float, default=OUTER_LR, help="the ratios' Adam step size")
    p.add_argument("--only", choices=["grid", "learned"], default=None,
                   help="run one half (two processes can share the work); report when both are done")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="with --only grid: train grid points i with i %% N == I (N processes share the grid)")
    a = p.parse_args()
    shard, shards = (int(v) for v in a.shard.split("/"))
    if not 0 <= shard < shards:
        p.error(f"--shard {a.shard}: need 0 <= I < N")
    work = WORK / grid_name(a)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data.parquet"
    if not data.exists():
        pd.read_parquet(suite_dir("all") / "suite.parquet")[["smiles", *TASKS]] \
            .dropna(how="all", subset=TASKS).to_parquet(data, index=False)
    table, _ = read_table(data)
    split = cap_train_per_task(table, make_split(table, "scaffold", 0), a.max_per_task, 0)
    # as a run reads it back, so that this script and the learned run cut validation alike
    split = load_split(save_split(split, table, work / "split.json"), table)
    settings = RatioSettings(parameterization=a.parameterization, outer_lr=a.outer_lr)
    learned, grid, grid_best = [], [], []
    if a.only != "grid":
        learned = [run(f"learned_seed{s}", a, data, table, split, s, settings, "learned") for s in a.seeds]
    if a.only == "learned":
        return 0
    points = list(symmetric_grid(TASKS, a.grid_values))
    if shards > 1:
        for i, (_, ratios) in enumerate(points):
            if i % shards == shard:
                run(f"grid_point{i:03d}", a, data, table, split, a.seeds[0], settings, "fixed", ratios)
        if not all((RESULTS / grid_name(a) / f"grid_point{i:03d}.json").exists() for i in range(len(points))):
            return 0
    for i, (_, ratios) in enumerate(points):
        grid.append(run(f"grid_point{i:03d}", a, data, table, split, a.seeds[0], settings, "fixed", ratios))
        print(f"grid point {i}: lambda-part score {grid[-1]['lambda_part_score']:.4f}", flush=True)
    best = min(grid, key=lambda r: r["lambda_part_score"])
    grid_best = [best] + [run(f"grid_best_seed{s}", a, data, table, split, s, settings, "fixed", best["ratios"])
                          for s in a.seeds[1:]]
    if a.only == "grid" and not all((RESULTS / result_name(a) / f"learned_seed{s}.json").exists() for s in a.seeds):
        return 0
    learned = [run(f"learned_seed{s}", a, data, table, split, s, settings, "learned") for s in a.seeds]
    text, summary = report(grid, grid_best, learned, a)
    (RESULTS / f"{result_name(a)}.md").write_text(text)
    write_result(result_name(a), summary)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
