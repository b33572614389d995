"""STL vs MTL on a 3-task file of a few thousand molecules: test RMSE per task (figure + JSON).

Tasks density, refractive_index and hvap_298 from the property suite; up to ``--molecules``
molecules sampled from their union (seeded); one balanced scaffold split; Chemprop defaults with
``--epochs`` (early stopping, patience 10).

    python benchmarks/three_task_baselines.py [--molecules 4000] [--epochs 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common import RESULTS, WORK, suite_dir, write_result  # noqa: E402
from molgate import api  # noqa: E402
from molgate.data.splits import make_split, save_split, split_counts  # noqa: E402
from molgate.data.table import read_table  # noqa: E402

TASKS = ["density", "refractive_index", "hvap_298"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--molecules", type=int, default=4000)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    suite = suite_dir("all")
    frame = pd.read_parquet(suite / "suite.parquet")[["smiles", *TASKS]]
    frame = frame[frame[TASKS].notna().any(axis=1)]
    frame = frame.sample(min(a.molecules, len(frame)), random_state=a.seed).reset_index(drop=True)
    work = WORK / "three_task"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "three_task.csv"
    frame.to_csv(data, index=False)
    table, _ = read_table(data)
    split = make_split(table, "scaffold", a.seed)
    split_file = save_split(split, table, work / "split.json")
    counts = split_counts(table, split)
    print(counts.to_string())
    results, seconds = {}, {}
    for method in ("stl", "mtl"):
        t = time.perf_counter()
        r = api.train(data, method=method, split_file=split_file, seed=a.seed, epochs=a.epochs,
                      out=work / method, progress=False)
        results[method] = api.evaluate(r.model_dir)
        seconds[method] = time.perf_counter() - t
    units = dict(zip(TASKS, api.units_from_manifest(suite / "suite.parquet", TASKS)))
    rows = [{"task": t, "unit": units[t], "n_test": results["stl"][t]["n"],
             **{f"{m}_{k}": results[m][t][k] for m in results for k in ("rmse", "pearson")}}
            for t in TASKS]
    out = pd.DataFrame(rows).set_index("task")
    print(out.to_string(float_format=lambda v: f"{v:.4g}"))
    print({m: f"{s:.0f} s" for m, s in seconds.items()})

    fig, axes = plt.subplots(1, len(TASKS), figsize=(3.2 * len(TASKS), 3.2), dpi=110)
    for ax, t in zip(axes, TASKS):
        vals = [results[m][t]["rmse"] for m in ("stl", "mtl")]
        ax.bar(["STL", "MTL"], vals, color=["#999999", "#1f77b4"])
        ax.set_title(f"{t}\n(n_test={results['stl'][t]['n']})", fontsize=9)
        ax.set_ylabel(f"test RMSE [{units[t]}]")
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    fig.suptitle(f"STL vs MTL, scaffold split seed {a.seed}, {len(table)} molecules", fontsize=10)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / "three_task_baselines.png")
    path = write_result("three_task_baselines", {
        "tasks": TASKS, "molecules": len(table), "epochs": a.epochs, "seed": a.seed,
        "split_counts": counts[["train", "val", "test"]].to_dict(), "metrics": results,
        "seconds": seconds})
    print(f"written {path} and {RESULTS / 'three_task_baselines.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
