"""Training throughput of molgate STL next to Chemprop's own ``chemprop train``, same run.

Both CLIs train a single-task D-MPNN (hidden 300, depth 3, mean aggregation, one FFN layer of 300,
batch 64, no early stopping) on the same file and the same split file. Each is run end to end for
E1 and E2 epochs; the time per epoch is ``(T(E2) - T(E1)) / (E2 - E1)``, which cancels start-up,
featurisation and file writing. Throughput = training molecules / seconds per epoch (validation
included in each epoch for both). Runs alternate between the two tools to share machine noise.

    python benchmarks/train_throughput.py [--task density] [--max-molecules 3000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import WORK, suite_dir, write_result
from molgate.data.splits import make_split, write_chemprop_splits, save_split
from molgate.data.table import read_table


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="density")
    p.add_argument("--max-molecules", type=int, default=3000)
    p.add_argument("--epochs", nargs=2, type=int, default=[4, 12])
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()

    suite = suite_dir("all")
    frame = pd.read_parquet(suite / "suite.parquet")[["smiles", a.task]].dropna()
    frame = frame.sample(min(a.max_molecules, len(frame)), random_state=0).reset_index(drop=True)
    work = WORK / "throughput"
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"{a.task}.csv"
    frame.to_csv(data, index=False)
    table, _ = read_table(data)
    assert table.smiles == frame["smiles"].tolist(), "the suite's SMILES are canonical and unique"
    split = make_split(table, "random", 0)
    save_split(split, table, work / "split.json")
    write_chemprop_splits(split, work / "chemprop_split.json")
    n_train = len(split.train)

    def molgate_cmd(e):
        return [sys.executable, "-m", "molgate.cli.main", "train", "--data", str(data), "--targets",
                a.task, "--method", "stl", "--split-file", str(work / "split.json"), "--epochs",
                str(e), "--patience", str(e + 1), "--out", str(work / f"molgate_{e}"), "--no-progress"]

    def chemprop_cmd(e):
        return [str(Path(sys.executable).with_name("chemprop")), "train", "-i", str(data), "-s", "smiles", "--target-columns", a.task,
                "--splits-file", str(work / "chemprop_split.json"), "--epochs", str(e),
                "--aggregation", "mean", "--accelerator", "cpu", "--devices", "1",
                "--num-workers", "0", "-o", str(work / f"chemprop_{e}")]

    # warm the graph cache so featurisation is not part of the first molgate timing either way
    subprocess.run(molgate_cmd(1), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: dict[str, dict[int, list[float]]] = {"molgate": {}, "chemprop": {}}
    for r in range(a.repeats):
        for e in a.epochs:
            for tool, cmd in (("molgate", molgate_cmd), ("chemprop", chemprop_cmd)):
                t = timed(cmd(e))
                times[tool].setdefault(e, []).append(t)
                print(f"repeat {r} {tool:8s} {e:3d} epochs: {t:6.1f} s", flush=True)
    e1, e2 = a.epochs
    rows = {}
    for tool, ts in times.items():
        per_epoch = (np.median(ts[e2]) - np.median(ts[e1])) / (e2 - e1)
        rows[tool] = {"seconds_per_epoch": per_epoch, "molecules_per_second": n_train / per_epoch,
                      f"wall_{e1}_epochs": float(np.median(ts[e1])),
                      f"wall_{e2}_epochs": float(np.median(ts[e2]))}
    ratio = rows["molgate"]["molecules_per_second"] / rows["chemprop"]["molecules_per_second"]
    table_ = pd.DataFrame(rows).T
    print(f"\n{a.task}: {n_train} training molecules, {len(split.val)} validation")
    print(table_.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"molgate / chemprop throughput: {ratio:.2f}x")
    path = write_result("train_throughput", {
        "task": a.task, "train_molecules": n_train, "val_molecules": len(split.val),
        "epochs": [e1, e2], "repeats": a.repeats, "raw_seconds": times, "results": rows,
        "ratio_molgate_over_chemprop": ratio})
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
