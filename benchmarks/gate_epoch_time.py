"""Seconds per training epoch of many-task GATE vs K (2, 5, 10, 20, 40), both sharing modes, next to MTL.

The same molecules for every K: ``--molecules`` molecules sampled once from the suite (seeded);
task k's labels are used for the first K tasks (largest first). Each (method, K) trains for
``--epochs`` epochs with Adam at the real model sizes (hidden 300, latent 300, LF 300, M = 4
perturbations); the time of the fastest epoch is reported, so a machine hiccup does not count.
The loop is plain PyTorch (forward, full GATE loss, backward, step), identical for every method,
so the ratios compare model cost only. Targets: time about linear in K (K=40 under 5x K=10) and
trunk GATE at most 3x MTL per epoch.

    python benchmarks/gate_epoch_time.py [--molecules 1024] [--ks 2 5 10 20 40]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
import torch

from common import RESULTS, suite_dir, write_result
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GateConfig, build_model


def epoch_seconds(model, loader, epochs: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    best = float("inf")
    for _ in range(epochs):
        t = time.perf_counter()
        for batch in loader:
            opt.zero_grad(set_to_none=True)
            loss, _ = model.training_loss(batch)
            loss.backward()
            opt.step()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--molecules", type=int, default=1024)
    p.add_argument("--ks", nargs="+", type=int, default=[2, 5, 10, 20, 40])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--methods", nargs="+", default=["mtl", "gate-trunk", "gate-separate"])
    a = p.parse_args()
    torch.manual_seed(0)
    frame = pd.read_parquet(suite_dir("all") / "suite.parquet")
    tasks = frame.drop(columns="smiles").notna().sum().sort_values(ascending=False).index.tolist()
    frame = frame.sample(a.molecules, random_state=0).reset_index(drop=True)
    graphs = featurize(frame["smiles"].tolist(), progress=False)
    d_v, d_e = feature_dims()
    rows = []
    partial = RESULTS / "gate_epoch_time.partial.json"
    done = json.loads(partial.read_text()) if partial.exists() else []
    for k in a.ks:
        y = frame[tasks[:k]].to_numpy(dtype=np.float64)
        y = (y - np.nanmean(y, 0)) / np.where(np.nanstd(y, 0) > 0, np.nanstd(y, 0), 1)
        loader = make_loader(GraphDataset(graphs, y), 64, shuffle=True, seed=0)
        for method in a.methods:
            hit = [r for r in done if r["K"] == k and r["method"] == method]
            if hit:
                rows.append(hit[0])
                continue
            name, _, sharing = method.partition("-")
            extra = {"gate": GateConfig(sharing=sharing).to_dict()} if name == "gate" else {}
            model = build_model(name, k, d_v, d_e, EncoderConfig(), extra)
            sec = epoch_seconds(model, loader, a.epochs)
            rows.append({"K": k, "method": method, "seconds_per_epoch": sec,
                         "molecules_per_second": a.molecules / sec})
            print(f"K={k:2d} {method:14s} {sec:7.2f} s/epoch", flush=True)
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(rows))
    table = pd.DataFrame(rows).pivot(index="K", columns="method", values="seconds_per_epoch")
    for m in table.columns:
        if m != "mtl" and "mtl" in table.columns:
            table[f"{m}/mtl"] = table[m] / table["mtl"]
    print(f"\nseconds per epoch, {a.molecules} molecules, batch 64, hidden/latent/LF 300, M=4")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    summary = {}
    if 10 in table.index and 40 in table.index:
        for m in a.methods:
            summary[f"{m}: K40/K10"] = float(table.loc[40, m] / table.loc[10, m])
            print(f"{m}: epoch time K=40 / K=10 = {summary[f'{m}: K40/K10']:.2f} (target < 5)")
    path = write_result("gate_epoch_time", {"molecules": a.molecules, "tasks_in_order": tasks,
                                            "rows": rows, "summary": summary})
    partial.unlink(missing_ok=True)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
