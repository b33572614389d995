"""Issue 7: add a small task to a GATE pre-trained on the large tasks, vs STL, MTL fine-tuning and
the full many-task GATE retrained with the task included.

Per scaffold seed: pre-train GATE and MTL once on the five large tasks, then add each small task
one at a time:

* ``add-task``: ``api.add_task`` on the frozen GATE (only the new task's modules train);
* ``stl``: a single-task model on the small task alone;
* ``mtl-finetune``: the pre-trained MTL encoder with a new head, all weights fine-tuned;
* ``full-retrain``: GATE trained from scratch on all ten tasks, read from the issue-5 benchmark
  (``benchmarks/results/reference10``), which uses the same split files and cap.

Splits are the benchmark's (scaffold, seeds 0-4, training labels capped at ``CAP`` per task,
sampled from train only; validation and test whole), so every method sees the same molecules.
Times are training times (the fits; featurisation is cached on disk for every method alike).
Resumable: each (seed, task, method) result is a JSON file under ``benchmarks/work/task_addition``.

    cd benchmarks && ../.venv/bin/python task_addition.py [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common import RESULTS, WORK, machine

from molgate import api
from molgate.benchmark import BenchmarkConfig
from molgate.benchmark.run import prepare_data, split_for, task_names
from molgate.data.table import read_table
from molgate.evaluate.metrics import task_metrics
from molgate.featurize.batching import GraphDataset
from molgate.featurize.graphs import FeaturizerSettings, featurize
from molgate.methods import MTLModel
from molgate.train.checkpoint import load_model
from molgate.train.fit import fit_model
from molgate.train.module import TrainSettings

LARGE = ["melting_point", "boiling_point", "density", "refractive_index", "hvap_298"]
SMALL = ["surface_tension_298", "viscosity_298", "dielectric_constant", "parachor", "hydration_free_energy"]
CAP, EPOCHS, PATIENCE = 500, 20, 6  # the issue-5 benchmark's settings
REFERENCE = RESULTS / "reference10"
OUT = WORK / "task_addition"
METHODS = ["add-task", "stl", "mtl-finetune", "full-retrain"]
COMMON = dict(epochs=EPOCHS, patience=PATIENCE, progress=False)


def small_task_file(table, task: str) -> Path:
    path = OUT / "data" / f"{task}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        k = table.tasks.index(task)
        keep = ~np.isnan(table.y[:, k])
        pd.DataFrame({"smiles": np.asarray(table.smiles, dtype=object)[keep], task: table.y[keep, k]}
                     ).to_csv(path, index=False)
    return path


def test_metrics(model_dir: Path, table, split, task: str, column: int) -> dict:
    k = table.tasks.index(task)
    test = split.test[~np.isnan(table.y[split.test, k])]
    pred = api.PropertyRegressor.load(model_dir).predict([table.smiles[i] for i in test])[:, column]
    return task_metrics(table.y[test, k][:, None], pred[:, None], [task])[task]


def mtl_finetune(pretrained: Path, data: Path, task: str, split_file: Path, seed: int, out: Path):
    """Pre-trained MTL encoder + a new head; every weight is trained on the new task."""
    base, config = load_model(pretrained)
    table, _ = read_table(data, "smiles", [task])
    split = api.prepare_split(table, split_file=split_file)
    torch.manual_seed(seed)
    model = MTLModel(1, base.d_v, base.d_e, base.config)
    model.encoder.load_state_dict(base.encoder.state_dict())
    model.scaler.fit(table.y[split.train])
    y = model.scaler.transform(torch.as_tensor(table.y, dtype=torch.float32)).numpy()
    graphs = featurize(table.smiles, FeaturizerSettings(**config["featurizer"]), progress=False)
    data_of = lambda idx: GraphDataset([graphs[i] for i in idx], y[idx])  # noqa: E731
    fit = fit_model(model, data_of(split.train), data_of(split.val), out,
                    TrainSettings(EPOCHS, 64, PATIENCE, seed=seed, progress=False))
    est = api.PropertyRegressor(method="mtl", progress=False)
    est.model_, est.tasks_, est.fit_results_ = model, [task], {"all": fit}
    est.save(out)
    return fit.seconds


def run_seed(seed: int, data_file: Path, table, config: BenchmarkConfig) -> None:
    folder = OUT / f"seed{seed}"
    split_file, split = split_for(table, "scaffold", seed, config, OUT)
    reference_split = REFERENCE / "splits" / split_file.name
    parts = ("train", "val", "test", "excluded")
    if reference_split.exists():
        mine, theirs = json.loads(split_file.read_text()), json.loads(reference_split.read_text())
        if any(mine.get(p) != theirs.get(p) for p in parts):
            sys.exit(f"{split_file} differs from the benchmark's {reference_split}")
    pre = {}
    for method in ("gate", "mtl"):
        model = folder / f"pretrained-{method}"
        if not (model / "config.json").exists():
            r = api.train(data_file, targets=LARGE, method=method, split_file=split_file, seed=seed,
                          out=model, **COMMON)
            (folder / f"pretrained-{method}.json").write_text(json.dumps({"seconds": r.seconds}))
        pre[method] = model
    for task in SMALL:
        data = small_task_file(table, task)
        for method in METHODS[:3]:
            path = folder / task / f"{method}.json"
            if path.exists():
                continue
            out = folder / task / method
            if method == "add-task":
                r = api.add_task(pre["gate"], data, task, out, split_file=split_file, seed=seed,
                                 epochs=EPOCHS, patience=PATIENCE, progress=False)
                seconds, extra = r.seconds + r.cache_seconds, {"cache_seconds": r.cache_seconds}
                column = -1
            elif method == "stl":
                r = api.train(data, targets=[task], method="stl", split_file=split_file, seed=seed,
                              out=out, **COMMON)
                seconds, extra, column = r.seconds, {}, 0
            else:
                seconds, extra, column = mtl_finetune(pre["mtl"], data, task, split_file, seed, out), {}, 0
            metrics = test_metrics(out, table, split, task, column)
            path.write_text(json.dumps({"seed": seed, "task": task, "method": method,
                                        "seconds": seconds, **extra, **metrics}))
            print(f"seed {seed} {task:22s} {method:13s} rmse {metrics['rmse']:.4g} "
                  f"r {metrics['pearson']:.3f} {seconds:6.1f} s", flush=True)


def full_retrain(seed: int) -> list[dict]:
    run = REFERENCE / "runs" / "scaffold" / f"seed{seed}" / "gate"
    if not (run / "result.json").exists():
        return []
    result = json.loads((run / "result.json").read_text())
    seconds = json.loads((run / "model" / "config.json").read_text())["throughput"]["seconds"]
    return [{"seed": seed, "task": t, "method": "full-retrain", "seconds": seconds,
             **result["metrics"][t]} for t in SMALL]


def epochs_run(seed: int, task: str, method: str) -> int | None:
    """Epochs the run trained for (early stopping differs between methods), from its model folder."""
    path = OUT / f"seed{seed}" / task / method / "config.json"
    if not path.exists():
        return None
    config = json.loads(path.read_text())
    fit = config["added_tasks"][-1]["fit"] if method == "add-task" else next(iter(config["fit"].values()))
    return int(fit["epochs_run"])


def report(seeds) -> dict:
    paths = [OUT / f"seed{s}" / t / f"{m}.json" for s in seeds for t in SMALL for m in METHODS[:3]]
    rows = [json.loads(p.read_text()) for p in paths if p.exists()]
    for row in rows:
        row["epochs"] = epochs_run(row["seed"], row["task"], row["method"])
        if row["epochs"]:
            row["seconds_per_epoch"] = row["seconds"] / row["epochs"]
    for s in seeds:
        rows += full_retrain(s)
    frame = pd.DataFrame(rows)
    pre = {m: [json.loads((OUT / f"seed{s}" / f"pretrained-{m}.json").read_text())["seconds"]
               for s in seeds if (OUT / f"seed{s}" / f"pretrained-{m}.json").exists()] for m in ("gate", "mtl")}
    stats = frame.groupby(["task", "method"]).agg(
        n_seeds=("seed", "nunique"), rmse=("rmse", "mean"), rmse_std=("rmse", "std"),
        mae=("mae", "mean"), pearson=("pearson", "mean"), pearson_std=("pearson", "std"),
        seconds=("seconds", "mean"), epochs=("epochs", "mean")).reset_index()
    lines = [f"Scaffold split, seeds {list(seeds)}; pre-training on {', '.join(LARGE)} (training labels "
             f"capped at {CAP} per task, sampled from train; validation and test whole); "
             f"at most {EPOCHS} epochs, patience {PATIENCE}. Mean +- std over seeds.", "",
             "| task | method | seeds | test RMSE | test MAE | Pearson r | training s | epochs |",
             "|---|---|---|---|---|---|---|---|"]
    for task in SMALL:
        for method in METHODS:
            r = stats[(stats.task == task) & (stats.method == method)]
            if r.empty:
                continue
            r = r.iloc[0]
            lines.append(f"| {task} | {method} | {r.n_seeds} | {r.rmse:.4g} +- {r.rmse_std:.2g} | "
                         f"{r.mae:.4g} | {r.pearson:.3f} +- {r.pearson_std:.3f} | {r.seconds:.1f} | "
                         f"{r.epochs:.1f} |")
    summary = {}
    pivot = frame.pivot_table(index=["seed", "task"], columns="method", values=["rmse", "pearson", "seconds"])
    if {"add-task", "stl"} <= set(frame.method):
        ratio = pivot["seconds"]["add-task"] / pivot["seconds"]["stl"]
        summary["add_over_stl_time"] = {"mean": float(ratio.mean()), "max": float(ratio.max())}
        per_epoch = frame.pivot_table(index=["seed", "task"], columns="method", values="seconds_per_epoch")
        ratio = per_epoch["add-task"] / per_epoch["stl"]
        summary["add_over_stl_time_per_epoch"] = {"mean": float(ratio.mean()), "max": float(ratio.max())}
    if {"add-task", "full-retrain"} <= set(frame.method):
        ratio = (pivot["seconds"]["add-task"] / pivot["seconds"]["full-retrain"]).dropna()
        summary["add_over_full_retrain_time"] = {"mean": float(ratio.mean()), "max": float(ratio.max())}
    for other in ("stl", "mtl-finetune", "full-retrain"):
        if {"add-task", other} <= set(frame.method):
            both = pivot["rmse"][["add-task", other]].dropna()
            summary[f"add_rmse_below_{other}"] = f"{int((both['add-task'] < both[other]).sum())}/{len(both)} (task x seed)"
            mean = stats.pivot(index="task", columns="method", values="rmse")[["add-task", other]].dropna()
            summary[f"add_mean_rmse_below_{other}_tasks"] = f"{int((mean['add-task'] < mean[other]).sum())}/{len(mean)}"
    summary["pretraining_seconds_mean"] = {m: float(np.mean(v)) if v else None for m, v in pre.items()}
    lines += ["", "| summary | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in summary.items()]
    text = "\n".join(lines) + "\n"
    (RESULTS / "task_addition.md").write_text(text)
    (RESULTS / "task_addition.json").write_text(json.dumps({
        "machine": machine(), "settings": {"large": LARGE, "small": SMALL, "cap": CAP, "epochs": EPOCHS,
                                            "patience": PATIENCE, "seeds": list(seeds)},
        "summary": summary, "rows": rows}, indent=1))
    print(text)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    config = BenchmarkConfig(tasks="reference10", splits=("scaffold",), max_per_task=CAP, epochs=EPOCHS,
                             patience=PATIENCE)
    OUT.mkdir(parents=True, exist_ok=True)
    data_file = prepare_data(config, REFERENCE if (REFERENCE / "suite").exists() else OUT)
    table, _ = read_table(data_file, targets=task_names(config))
    if not args.report_only:
        for seed in args.seeds:
            start = time.perf_counter()
            run_seed(seed, data_file, table, config)
            print(f"seed {seed} done in {time.perf_counter() - start:.0f} s", flush=True)
    report(args.seeds)


if __name__ == "__main__":
    main()
