"""Training throughput of molgate STL, MTL and GATE next to Chemprop's ``chemprop train``, same run;
and how GATE's epoch cost grows with the number of tasks K.

Part 1, end to end (both CLIs, reference10 molecules, hidden 300, depth 3, mean aggregation, one
FFN layer of 300, batch 64, no early stopping, the same file and split for every tool):

* one task (``--task``): molgate STL; molgate STL with ``MOLGATE_DEDUP_TRAINING=0`` (chemprop's
  own message passing inside molgate's loop: what the deduplicated training path gains);
  ``chemprop train``;
* the ten reference10 tasks: molgate MTL, molgate GATE (its default sharing, K = 10) and
  ``chemprop train`` with the ten target columns (Chemprop's multi-task model).

Each command runs end to end for E1 and E2 epochs; seconds per epoch are
``(T(E2) - T(E1)) / (E2 - E1)`` (medians over repeats), which cancels start-up, featurisation and
file writing; validation is part of every epoch for every tool. Runs alternate between tools so
they share the machine's noise. Throughput = training molecules / seconds per epoch.

Part 2, in process: seconds per training epoch (forward, the model's full training loss,
backward, Adam step; fastest of ``--k-epochs`` epochs) of MTL and GATE (default sharing) for K in
``--ks`` tasks on the same ``--k-molecules`` molecules of the 40-task suite.

    OMP_NUM_THREADS=2 python benchmarks/train_throughput.py [--task density] [--max-molecules 3000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common import WORK, suite_dir, write_result
from gate_epoch_time import epoch_seconds
from molgate.data.splits import make_split, save_split, write_chemprop_splits
from molgate.data.table import read_table

REFERENCE10 = ["melting_point", "boiling_point", "density", "refractive_index", "hvap_298",
               "dielectric_constant", "parachor", "hydration_free_energy", "surface_tension_298",
               "viscosity_298"]


def timed(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t


def prepare(frame: pd.DataFrame, name: str) -> tuple[Path, Path, Path, int, int]:
    """The CSV, molgate's and chemprop's split files for ``frame``; training and validation sizes."""
    work = WORK / "throughput"
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"{name}.csv"
    frame.to_csv(data, index=False)
    table, _ = read_table(data)
    assert table.smiles == frame["smiles"].tolist(), "the suite's SMILES are canonical and unique"
    split = make_split(table, "random", 0)
    save_split(split, table, work / f"{name}_split.json")
    write_chemprop_splits(split, work / f"{name}_chemprop_split.json")
    return data, work / f"{name}_split.json", work / f"{name}_chemprop_split.json", len(split.train), len(split.val)


def end_to_end(name: str, frame: pd.DataFrame, tasks: list[str], tools: dict, epochs: list[int],
               repeats: int) -> dict:
    """Seconds per epoch of every tool on ``frame`` (see the module docstring)."""
    data, split, chemprop_split, n_train, n_val = prepare(frame, name)
    out = WORK / "throughput" / name

    def molgate_cmd(method: str, e: int) -> list[str]:
        return [sys.executable, "-m", "molgate.cli.main", "train", "--data", str(data), "--targets", *tasks,
                "--method", method, "--split-file", str(split), "--epochs", str(e), "--patience", str(e + 1),
                "--out", str(out / f"{method}_{e}"), "--overwrite", "--no-progress"]

    def chemprop_cmd(e: int) -> list[str]:
        return [str(Path(sys.executable).with_name("chemprop")), "train", "-i", str(data), "-s", "smiles",
                "--target-columns", *tasks, "--splits-file", str(chemprop_split), "--epochs", str(e),
                "--aggregation", "mean", "--accelerator", "cpu", "--devices", "1", "--num-workers", "0",
                "-o", str(out / f"chemprop_{e}")]

    def command(tool: str, e: int) -> tuple[list[str], dict]:
        method, env = tools[tool]
        return (chemprop_cmd(e) if method == "chemprop" else molgate_cmd(method, e)), env

    # warm the graph cache so featurisation is not part of the first molgate timing either way
    timed(*command(next(t for t in tools if tools[t][0] != "chemprop"), 1))
    times: dict[str, dict[int, list[float]]] = {tool: {} for tool in tools}
    for r in range(repeats):
        for e in epochs:
            for tool in tools:
                t = timed(*command(tool, e))
                times[tool].setdefault(e, []).append(t)
                print(f"{name} repeat {r} {tool:16s} {e:3d} epochs: {t:6.1f} s", flush=True)
    e1, e2 = epochs
    rows = {}
    for tool, ts in times.items():
        per_epoch = (np.median(ts[e2]) - np.median(ts[e1])) / (e2 - e1)
        rows[tool] = {"seconds_per_epoch": per_epoch, "molecules_per_second": n_train / per_epoch,
                      f"wall_{e1}_epochs": float(np.median(ts[e1])), f"wall_{e2}_epochs": float(np.median(ts[e2]))}
    chem = rows["chemprop"]["molecules_per_second"]
    ratios = {f"{tool} / chemprop": rows[tool]["molecules_per_second"] / chem for tool in rows if tool != "chemprop"}
    print(f"\n{name}: {n_train} training molecules, {n_val} validation, tasks {tasks}")
    print(pd.DataFrame(rows).T.to_string(float_format=lambda v: f"{v:.2f}"))
    for k, v in ratios.items():
        print(f"throughput {k}: {v:.2f}x")
    return {"tasks": tasks, "train_molecules": n_train, "val_molecules": n_val, "raw_seconds": times,
            "results": rows, "ratios": ratios}


def epoch_cost_vs_k(suite: Path, ks: list[int], n_molecules: int, epochs: int) -> dict:
    """Seconds per training epoch of MTL and default GATE for each K, same molecules (part 2)."""
    from molgate.featurize.batching import GraphDataset, make_loader
    from molgate.featurize.graphs import feature_dims, featurize
    from molgate.methods import EncoderConfig, build_model

    frame = pd.read_parquet(suite)
    tasks = frame.drop(columns="smiles").notna().sum().sort_values(ascending=False).index.tolist()
    frame = frame.sample(n_molecules, random_state=0).reset_index(drop=True)
    graphs = featurize(frame["smiles"].tolist(), progress=False)
    d_v, d_e = feature_dims()
    rows = []
    for k in ks:
        y = frame[tasks[:k]].to_numpy(dtype=np.float64)
        y = (y - np.nanmean(y, 0)) / np.where(np.nanstd(y, 0) > 0, np.nanstd(y, 0), 1)
        loader = make_loader(GraphDataset(graphs, y), 64, shuffle=True, seed=0)
        for method in ("mtl", "gate"):
            torch.manual_seed(0)
            best = epoch_seconds(build_model(method, k, d_v, d_e, EncoderConfig()), loader, epochs)
            rows.append({"K": k, "method": method, "seconds_per_epoch": best})
            print(f"K={k:2d} {method:5s} {best:7.2f} s/epoch", flush=True)
    table = pd.DataFrame(rows).pivot(index="K", columns="method", values="seconds_per_epoch")
    table["gate/mtl"] = table["gate"] / table["mtl"]
    print(f"\nseconds per epoch, {n_molecules} molecules, batch 64")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    summary = {f"gate/mtl at K={k}": float(table.loc[k, "gate/mtl"]) for k in table.index}
    if 10 in table.index and 40 in table.index:
        for m in ("mtl", "gate"):
            summary[f"{m}: K40/K10"] = float(table.loc[40, m] / table.loc[10, m])
    print(summary)
    return {"molecules": n_molecules, "tasks_in_order": tasks[:max(ks)], "rows": rows, "summary": summary}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="density")
    p.add_argument("--max-molecules", type=int, default=3000)
    p.add_argument("--epochs", nargs=2, type=int, default=[4, 12])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--suite", type=Path, help="reference10 suite.parquet (default: built under work/)")
    p.add_argument("--suite-all", type=Path, help="40-task suite.parquet for part 2 (default: built)")
    p.add_argument("--ks", nargs="*", type=int, default=[2, 5, 10, 20, 40])
    p.add_argument("--k-molecules", type=int, default=1024)
    p.add_argument("--k-epochs", type=int, default=2)
    p.add_argument("--parts", nargs="+", choices=["single", "ten", "k"], default=["single", "ten", "k"])
    p.add_argument("--name", default="train_throughput", help="results/<name>.json (keep earlier parts' files)")
    a = p.parse_args()
    from molgate.methods import GateConfig

    suite = a.suite or suite_dir("reference10") / "suite.parquet"
    reference = pd.read_parquet(suite)
    result: dict = {"threads": torch.get_num_threads(), "gate_sharing": GateConfig().sharing,
                    "epochs": a.epochs, "repeats": a.repeats}
    if "single" in a.parts:
        frame = reference[["smiles", a.task]].dropna()
        frame = frame.sample(min(a.max_molecules, len(frame)), random_state=0).reset_index(drop=True)
        tools = {"molgate-stl": ("stl", {}), "molgate-stl-chemprop-mp": ("stl", {"MOLGATE_DEDUP_TRAINING": "0"}),
                 "chemprop": ("chemprop", {})}
        result["single_task"] = end_to_end("single", frame, [a.task], tools, a.epochs, a.repeats)
    if "ten" in a.parts:
        frame = reference[["smiles", *REFERENCE10]].dropna(how="all", subset=REFERENCE10)
        frame = frame.sample(min(a.max_molecules, len(frame)), random_state=0).reset_index(drop=True)
        tools = {"molgate-mtl": ("mtl", {}), "molgate-gate": ("gate", {}), "chemprop": ("chemprop", {})}
        result["ten_tasks"] = end_to_end("ten", frame, REFERENCE10, tools, a.epochs, a.repeats)
    if "k" in a.parts and a.ks:
        result["epoch_cost_vs_k"] = epoch_cost_vs_k(a.suite_all or suite_dir("all") / "suite.parquet",
                                                    a.ks, a.k_molecules, a.k_epochs)
    path = write_result(a.name, result)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
