"""Seconds per training epoch of many-task GATE vs K (2, 5, 10, 20, 40), both sharing modes, next to MTL.

The same molecules for every K and method. ``--data all`` (the default): ``--molecules`` molecules
sampled once from the whole suite (seeded), task k's labels used for the first K tasks (largest
first). ``--data main-job``: the main job's training molecules (reference10, scaffold seed 0, at
most 1,500 training labels per task; K <= 10), ``--molecules`` of them (0: all). Each method
trains at the real model sizes (hidden 300, latent 300, LF 300, M = 4 perturbations) with Adam in
a plain PyTorch loop (forward, full loss, backward, step), identical for every method, so the
ratios compare model cost only.

Timing: every method's model is built once per K; then ``--warmup`` epochs and ``--repeats``
timed epochs are run with the methods taking turns, epoch by epoch (the order reversed on every
other repeat), so a change in the machine's load falls on all of them alike. The reported time is
the median of the timed epochs. ``--repeats 1 --warmup 1`` is close to the first version (the
best of two epochs, methods one after the other).

Methods: ``mtl``, ``gate-trunk``, ``gate-separate`` and the GATE variants in :data:`VARIANTS`
(e.g. ``gate-trunk-batch``: batch distances, no perturbed passes; ``gate-trunk-map3``: the mapping
term from 3 sources per target; ``gate-trunk-p16``: perturbed copies of 16 molecules per batch).
Targets: time about linear in K (K=40 at most 4x K=10); the
default GATE at most 4x MTL per epoch at K = 10 (issue 17).

    OMP_NUM_THREADS=1 python benchmarks/gate_epoch_time.py [--ks 10] [--data main-job] [--repeats 3] \\
        [--methods mtl gate-trunk] [--name gate_epoch_time_k10] [--flops]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
import torch

from common import RESULTS, epoch_matmul_flops, reference10_split, suite_dir, write_result
from molgate.data.splits import load_split
from molgate.data.table import read_table
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GateConfig, build_model
from molgate.methods.gate_losses import GateLossWeights

#: GATE variants by name: (sharing, GateConfig fields, GateLossWeights fields)
VARIANTS = {
    "gate-trunk": ("trunk", {}, {}),
    "gate-separate": ("separate", {}, {}),
    "gate-trunk-batch": ("trunk", {}, {"distance_form": "batch"}),
    "gate-trunk-m1": ("trunk", {"perturb_count": 1}, {}),
    "gate-trunk-m2": ("trunk", {"perturb_count": 2}, {}),
    "gate-trunk-map3": ("trunk", {}, {"map_sources": 3}),
    "gate-trunk-map1": ("trunk", {}, {"map_sources": 1}),
    "gate-trunk-batch-map3": ("trunk", {}, {"distance_form": "batch", "map_sources": 3}),
    "gate-trunk-p16": ("trunk", {"perturb_molecules": 16}, {}),
    "gate-trunk-p16-map3": ("trunk", {"perturb_molecules": 16}, {"map_sources": 3}),
    "gate-trunk-p16-map1": ("trunk", {"perturb_molecules": 16}, {"map_sources": 1}),
    "gate-trunk-p8-map1": ("trunk", {"perturb_molecules": 8}, {"map_sources": 1}),
    "gate-trunk-nodis-map1": ("trunk", {}, {"use_dis": False, "map_sources": 1}),
    "gate-trunk-w100": ("trunk", {"latent_size": 100, "lf_size": 100}, {}),
    "gate-trunk-w64": ("trunk", {"latent_size": 64, "lf_size": 64}, {}),
    "gate-trunk-noalign": ("trunk", {}, {"use_auto": False, "use_cons": False, "use_map": False, "use_dis": False}),
}


def epoch_seconds(model, loader, epochs: int) -> float:
    """The fastest of ``epochs`` epochs of one model (used by ``train_throughput.py`` too)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    return min(one_epoch(model, opt, loader) for _ in range(epochs))


def one_epoch(model, opt, loader) -> float:
    start = time.perf_counter()
    for batch in loader:
        opt.zero_grad(set_to_none=True)
        loss, _ = model.training_loss(batch)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def build(method: str, k: int, without: str | None = None):
    """``method``'s model for K = ``k`` tasks; ``without`` (``auto``, ``cons``, ``map`` or ``dis``):
    that alignment term off, for what it alone costs."""
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    if method == "mtl":
        return build_model("mtl", k, d_v, d_e, EncoderConfig(), {})
    sharing, gate, weights = VARIANTS[method]
    weights = dict(weights, **({f"use_{without}": False} if without else {}))
    config = GateConfig(sharing=sharing, weights=GateLossWeights(**weights), **gate)
    return build_model("gate", k, d_v, d_e, EncoderConfig(), {"gate": config.to_dict()})


def flops_without_each_term(method: str, k: int, loader) -> dict[str, float]:
    """Matmul FLOPs per epoch of ``method`` with each alignment term off in turn."""
    return {term: epoch_matmul_flops(build(method, k, term), loader) for term in ("auto", "cons", "map", "dis")}


def alternating_epochs(methods: list[str], k: int, loader, warmup: int, repeats: int) -> dict[str, list[float]]:
    """Timed epochs of every method, the methods taking turns (module docstring)."""
    models = {m: build(m, k) for m in methods}
    optimisers = {m: torch.optim.Adam(model.parameters(), lr=1e-4) for m, model in models.items()}
    for model in models.values():
        model.train()
    times: dict[str, list[float]] = {m: [] for m in methods}
    for r in range(warmup + repeats):
        order = methods if r % 2 == 0 else methods[::-1]
        for m in order:
            sec = one_epoch(models[m], optimisers[m], loader)
            if r >= warmup:
                times[m].append(sec)
            print(f"K={k:2d} {m:22s} {'warm-up' if r < warmup else f'repeat {r - warmup}'}: {sec:7.2f} s",
                  flush=True)
    return times


def load_data(data: str, molecules: int) -> tuple[list, np.ndarray, list[str]]:
    """``(graphs, labels [N, T] in tasks order, tasks)``, tasks sorted by label count (largest first)."""
    if data == "main-job":
        path, split_file, _ = reference10_split("gate_epoch_time", seed=0, cap=1500)
        table, _ = read_table(path)
        rows = load_split(split_file, table).train
        if molecules:
            rows = np.sort(np.random.default_rng(0).choice(rows, size=min(molecules, len(rows)), replace=False))
        frame = pd.DataFrame(table.y[rows], columns=table.tasks)
        frame.insert(0, "smiles", [table.smiles[i] for i in rows])
        tasks = frame.drop(columns="smiles").notna().sum().sort_values(ascending=False).index.tolist()
    else:
        frame = pd.read_parquet(suite_dir("all") / "suite.parquet")
        tasks = frame.drop(columns="smiles").notna().sum().sort_values(ascending=False).index.tolist()
        frame = frame.sample(molecules, random_state=0).reset_index(drop=True)
    graphs = featurize(frame["smiles"].tolist(), progress=False)
    return graphs, frame[tasks].to_numpy(dtype=np.float64), tasks


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--molecules", type=int, default=1024)
    p.add_argument("--data", choices=["all", "main-job"], default="all")
    p.add_argument("--ks", nargs="+", type=int, default=[2, 5, 10, 20, 40])
    p.add_argument("--epochs", type=int, default=None, help="old name of --repeats")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=["mtl", "gate-trunk", "gate-separate"],
                   choices=["mtl", *VARIANTS])
    p.add_argument("--name", default="gate_epoch_time", help="results/<name>.json")
    p.add_argument("--flops", action="store_true",
                   help="also count each method's matmul FLOPs per epoch, and a GATE's with each term off")
    a = p.parse_args()
    repeats = a.epochs or a.repeats
    graphs, labels, tasks = load_data(a.data, a.molecules)
    if max(a.ks) > len(tasks):
        raise SystemExit(f"--data {a.data} has {len(tasks)} tasks, fewer than K = {max(a.ks)}")
    load_before = os.getloadavg()
    rows = []
    partial = RESULTS / f"{a.name}.partial.json"
    done = json.loads(partial.read_text()) if partial.exists() else []
    for k in a.ks:
        hit = [r for r in done if r["K"] == k and r["method"] in a.methods]
        if len(hit) == len(a.methods):
            rows += hit
            continue
        y = labels[:, :k]
        y = (y - np.nanmean(y, 0)) / np.where(np.nanstd(y, 0) > 0, np.nanstd(y, 0), 1)
        loader = make_loader(GraphDataset(graphs, y), 64, shuffle=True, seed=0)
        for m, times in alternating_epochs(a.methods, k, loader, a.warmup, repeats).items():
            sec = statistics.median(times)
            flops = {"matmul_flops_per_epoch": epoch_matmul_flops(build(m, k), loader)} if a.flops else {}
            if a.flops and m != "mtl":
                flops["matmul_flops_per_epoch_without"] = flops_without_each_term(m, k, loader)
            rows.append({"K": k, "method": m, "seconds_per_epoch": sec, "epoch_seconds": times,
                         "molecules_per_second": len(graphs) / sec, **flops})
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(rows))
    table = pd.DataFrame(rows).pivot(index="K", columns="method", values="seconds_per_epoch")
    for m in a.methods:
        if m != "mtl" and "mtl" in table.columns:
            table[f"{m}/mtl"] = table[m] / table["mtl"]
    print(f"\nseconds per epoch (median of {repeats}), {len(graphs)} molecules ({a.data}), batch 64, "
          f"hidden 300, latent/LF 300 unless the method says (-w100: 100), M=4, "
          f"{torch.get_num_threads()} thread(s), load average "
          f"{load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    if a.flops:
        flops = pd.DataFrame(rows).pivot(index="K", columns="method", values="matmul_flops_per_epoch")
        if "mtl" in flops.columns:
            flops = flops.div(flops["mtl"], axis=0)
        print("matmul FLOPs per epoch" + (" / MTL's" if "mtl" in flops.columns else "") + ":")
        print(flops.to_string(float_format=lambda v: f"{v:.2f}"))
        mtl = {r["K"]: r["matmul_flops_per_epoch"] for r in rows if r["method"] == "mtl"}
        for r in rows:
            if "matmul_flops_per_epoch_without" in r and r["K"] in mtl:
                print(f"K={r['K']} {r['method']} FLOPs / MTL's with one term off: " + ", ".join(
                    f"{t} {v / mtl[r['K']]:.2f}" for t, v in r["matmul_flops_per_epoch_without"].items()))
    summary = {}
    if 10 in table.index and 40 in table.index:
        for m in a.methods:
            summary[f"{m}: K40/K10"] = float(table.loc[40, m] / table.loc[10, m])
            print(f"{m}: epoch time K=40 / K=10 = {summary[f'{m}: K40/K10']:.2f} (issue 17: at most 4)")
    if 10 in table.index and "mtl" in table.columns:
        for m in a.methods:
            if m != "mtl":
                summary[f"{m}/mtl at K=10"] = float(table.loc[10, m] / table.loc[10, "mtl"])
    path = write_result(a.name, {"molecules": len(graphs), "data": a.data, "repeats": repeats,
                                 "warmup": a.warmup, "tasks_in_order": tasks, "load_average":
                                 {"start": load_before, "end": os.getloadavg()},
                                 "command": " ".join(sys.argv), "rows": rows, "summary": summary})
    partial.unlink(missing_ok=True)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
