"""How much of the reference10 test error is label noise: curated vs uncurated suite build.

Builds reference10 twice (the curated default, and ``--keep-flagged``: the old labels), makes one
balanced scaffold split over the uncurated build's molecules (training capped per task; the same
training molecules for both), trains the same methods on each build, and evaluates every model on
the SAME curated test labels. Also scores the uncurated-trained models on the uncurated test labels,
as the benchmark reported until now. Per task and method:

- A: old model on old test labels (what the benchmark reported),
- B: old model on curated test labels (same molecules, flagged labels removed),
- C: curated model on curated test labels.

A - B is the error the flagged test labels added; B - C what training on flagged labels cost
(one seed, so B - C is only meaningful where it exceeds its size on tasks with nothing flagged).
Resumable: finished builds, models and predictions are reused. Writes
benchmarks/results/suite_curation.{md,json}.

    OMP_NUM_THREADS=1 python benchmarks/suite_curation.py [--cap 1000] [--epochs 15]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd

from common import RESULTS, WORK, write_result
from molgate import api
from molgate.data.splits import cap_train_per_task, make_split, save_split
from molgate.data.suite import build_suite
from molgate.data.table import read_table
from molgate.evaluate.metrics import task_metrics

BUILDS = {"curated": True, "uncurated": False}  # name -> drop_flagged


def builds(work) -> dict[str, dict]:
    out = {}
    for name, drop in BUILDS.items():
        folder = work / f"suite_{name}"
        if not (folder / "manifest.json").exists():
            build_suite("reference10", folder, drop_flagged=drop, progress=False)
        out[name] = {"dir": folder, "wide": pd.read_parquet(folder / "suite.parquet"),
                     "manifest": json.loads((folder / "manifest.json").read_text())}
    return out


def split_file(work, data, cap: int, seed: int):
    path = work / f"scaffold_seed{seed}_cap{cap}.json"
    if not path.exists():
        table, _ = read_table(data)
        save_split(cap_train_per_task(table, make_split(table, "scaffold", seed), cap, seed),
                   table, path)
    return path


def predictions(model_dir, smiles: list[str], cache) -> pd.DataFrame:
    if cache.exists():
        return pd.read_csv(cache)
    pd.DataFrame({"smiles": smiles}).to_csv(cache.with_suffix(".in.csv"), index=False)
    frame = api.predict(model_dir, cache.with_suffix(".in.csv"))
    frame.to_csv(cache, index=False)
    return frame


def metrics(wide: pd.DataFrame, pred: pd.DataFrame, tasks: list[str]) -> dict:
    truth = wide.set_index("smiles").reindex(pred["smiles"])[tasks].to_numpy(float)
    return task_metrics(truth, pred[tasks].to_numpy(float), tasks)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cap", type=int, default=1000, help="training labels per task")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=["stl", "mtl"])
    a = p.parse_args()
    work = WORK / "suite_curation"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    b = builds(work)
    tasks = [c for c in b["curated"]["wide"].columns if c != "smiles"]
    split = split_file(work, b["uncurated"]["dir"] / "suite.parquet", a.cap, a.seed)
    test = json.loads(split.read_text())["test"]
    times = work / "train_seconds.json"  # kept across resumed runs
    seconds = json.loads(times.read_text()) if times.exists() else {}
    result = {}
    for method in a.methods:
        for name in BUILDS:
            model = work / f"{name}_{method}_e{a.epochs}_cap{a.cap}_seed{a.seed}"
            if not (model / "config.json").exists():
                t1 = time.perf_counter()
                api.train(b[name]["dir"] / "suite.parquet", method=method, split_file=split,
                          out=model, seed=a.seed, epochs=a.epochs,
                          patience=max(3, a.epochs // 3), progress=False)
                seconds[model.name] = time.perf_counter() - t1
                times.write_text(json.dumps(seconds, indent=1, sort_keys=True))
                print(f"trained {model.name} in {seconds[model.name]:.0f} s", flush=True)
            pred = predictions(model, test, work / f"{model.name}_test.csv")
            result[f"{name}_{method}"] = {
                "curated_test": metrics(b["curated"]["wide"], pred, tasks),
                "uncurated_test": metrics(b["uncurated"]["wide"], pred, tasks)}
    lines = report(result, b, tasks, a)
    lines.append("Training seconds (OMP_NUM_THREADS=1, 2 shared cores): "
                 + ", ".join(f"{k} {v:.0f}" for k, v in sorted(seconds.items())))
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "suite_curation.md").write_text("\n".join(lines) + "\n")
    write_result("suite_curation", {
        "settings": vars(a), "split": split.name, "train_seconds": seconds,
        "wall_seconds_this_run": time.perf_counter() - t0, "metrics": result,
        "flagged": {t: b["curated"]["manifest"]["curation"]["tasks"][t] for t in tasks}})
    return 0


def report(result: dict, b: dict, tasks: list[str], a) -> list[str]:
    cur = b["curated"]["manifest"]["curation"]["tasks"]
    lines = [f"reference10, balanced scaffold split seed {a.seed} over the uncurated build's "
             f"molecules, at most {a.cap} training labels per task (same molecules for both "
             f"builds), at most {a.epochs} epochs. A = uncurated-trained model on the uncurated "
             "test labels (what the benchmark reported), B = the same model on the curated test "
             "labels (same molecules, flagged labels removed), C = curated-trained model on the "
             "curated test labels. RMSE in task units; r = Pearson.", ""]
    for method in a.methods:
        old, new = result[f"uncurated_{method}"], result[f"curated_{method}"]
        lines += [f"**{method.upper()}**", "",
                  "| task | flagged (all) | n test A | n test B=C | RMSE A | RMSE B | RMSE C | "
                  "A-B (test noise) | B-C (training noise) | r A | r B | r C |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for t in tasks:
            ma, mb, mc = old["uncurated_test"][t], old["curated_test"][t], new["curated_test"][t]
            lines.append(f"| {t} | {cur[t]['flagged']} | {ma['n']} | {mb['n']} | "
                         + " | ".join(_f(m["rmse"]) for m in (ma, mb, mc)) + " | "
                         + f"{_pct(ma['rmse'], mb['rmse'])} | {_pct(mb['rmse'], mc['rmse'])} | "
                         + " | ".join(_f(m["pearson"], 3) for m in (ma, mb, mc)) + " |")
        lines.append("")
    lines.append("A-B in % of RMSE A, B-C in % of RMSE B (positive: the curated side is "
                 "better). One seed: on tasks with nothing flagged (A = B) the B-C column shows how "
                 "much one training run differs from another when other tasks' labels change "
                 "(MTL) or the batches shift, the scale below which B-C is noise.")
    return lines


def _pct(a: float, b: float) -> str:
    return f"{100 * (a - b) / a:+.1f}%" if a and np.isfinite(a) and np.isfinite(b) else "-"


def _f(v, digits: int = 4) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.{digits}g}"


if __name__ == "__main__":
    sys.exit(main())
