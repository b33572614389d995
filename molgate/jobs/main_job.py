"""The README's main job: build the reference10 suite, train MTL and GATE on one split, print tables.

Sized for a laptop: ``--max-epochs`` (default 8) and ``--max-per-task`` (default 1500 training
molecules per task, sampled from the training part only; validation and test stay whole) keep it
to a few minutes on 2 CPU cores. ``--full`` lifts both caps.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from molgate import api
from molgate.data.splits import cap_train_per_task, make_split, save_split, split_counts
from molgate.data.suite import build_suite
from molgate.data.table import read_table
from molgate.evaluate.metrics import metrics_table
from molgate.evaluate.plots import grouped_bar_chart


def run(out: Path, max_epochs: int, max_per_task: int | None, seed: int, methods: list[str]) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    suite_dir = out / "suite"
    if not (suite_dir / "suite.parquet").exists():
        build_suite("reference10", suite_dir)
    print(f"suite built in {time.perf_counter() - t0:.0f} s -> {suite_dir}")
    data = suite_dir / "suite.parquet"
    table, _ = read_table(data)
    split = cap_train_per_task(table, make_split(table, "scaffold", seed), max_per_task, seed)
    split_file = save_split(split, table, out / "split.json")
    print(split_counts(table, split)[["train", "val", "test"]].to_string())
    results, rmse, seconds = {}, {}, {}
    for method in methods:
        t1 = time.perf_counter()
        r = api.train(data, method=method, split_file=split_file, out=out / method, seed=seed,
                      epochs=max_epochs, patience=max(3, max_epochs // 3),
                      progress=sys.stderr.isatty())
        metrics = api.evaluate(r.model_dir)
        seconds[method] = time.perf_counter() - t1
        results[method] = metrics
        rmse[method] = {t: m["rmse"] / np.nanstd(table.y[:, table.tasks.index(t)]) for t, m in metrics.items()}
        units = dict(zip(r.tasks, api.units_from_manifest(data, r.tasks)))
        print(f"\n{method.upper()} (scaffold split, seed {seed}, {time.perf_counter() - t1:.0f} s), "
              f"test set, original units:")
        print(metrics_table(metrics, units).to_string(float_format=lambda v: f"{v:.4g}"))
    grouped_bar_chart(rmse, "test RMSE / std of task", out / "test_rmse.png",
                      "scaffold split: test RMSE (scaled by task std)")
    (out / "results.json").write_text(json.dumps({
        "split": "scaffold", "seed": seed, "max_epochs": max_epochs, "max_per_task": max_per_task,
        "seconds": seconds, "metrics": results}, indent=2))
    print(f"\nfigure: {out / 'test_rmse.png'}; total {time.perf_counter() - t0:.0f} s")
    line = gate_summary(results)
    if line:
        print(line)
    return pd.DataFrame({m: {t: v["rmse"] for t, v in res.items()} for m, res in results.items()})


def gate_summary(results: dict[str, dict]) -> str | None:
    """``GATE beats MTL on N/K tasks (test RMSE); mean per-task RMSE change: X%``."""
    if "gate" not in results or "mtl" not in results:
        return None
    tasks = [t for t in results["gate"] if t in results["mtl"]]
    change = [results["gate"][t]["rmse"] / results["mtl"][t]["rmse"] - 1.0 for t in tasks]
    wins = sum(c < 0 for c in change)
    return (f"summary: GATE beats MTL on {wins}/{len(tasks)} tasks (test RMSE); mean per-task RMSE "
            f"change {100 * float(np.mean(change)):+.1f}%")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/main")
    p.add_argument("--max-epochs", type=int, default=8)
    p.add_argument("--max-per-task", type=int, default=1500)
    p.add_argument("--methods", nargs="+", default=["mtl", "gate"], choices=["stl", "mtl", "gate"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full", action="store_true", help="no caps: 50 epochs, every molecule")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="molgate: %(message)s", stream=sys.stderr)
    if a.full:
        a.max_epochs, a.max_per_task = 50, None
    run(Path(a.out), a.max_epochs, a.max_per_task, a.seed, a.methods)
    return 0


if __name__ == "__main__":
    sys.exit(main())
