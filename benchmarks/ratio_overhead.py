"""Overhead per training step of learned vs uniform transfer ratios (target: under 1.5x).

Many-task GATE (trunk, real sizes) on ``--molecules`` molecules of the reference10 tasks; a plain
loop of Adam steps, with one hypergradient update of lambda every ``--interval`` steps for the
learned run (amortised over the steps between updates), as the training callback makes it: the
next ``val_batches`` validation batches and the Adam preconditioner of the inner optimiser
(:mod:`molgate.train.ratio_callback`). Runs alternate to share machine noise.

    python benchmarks/ratio_overhead.py [--molecules 1024] [--interval 10] [--hypergradient jvp] \
        [--parameterization softmax] [--name ratio_overhead]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
import pandas as pd
import torch

from common import suite_dir, write_result
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GateConfig, build_model
from molgate.methods.transfer_ratios import RatioSettings, TransferRatioLearner


def seconds_per_step(mode: str, graphs, y, a) -> float:
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    model = build_model("gate", y.shape[1], d_v, d_e, EncoderConfig(), {"gate": GateConfig().to_dict()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n_val = len(graphs) // 5
    train = make_loader(GraphDataset(graphs[n_val:], y[n_val:]), 64, shuffle=True, seed=0)
    val = itertools.cycle(make_loader(GraphDataset(graphs[:n_val], y[:n_val]), 64, shuffle=True, seed=1))
    settings = RatioSettings(interval=a.interval, hypergradient=a.hypergradient,
                             parameterization=a.parameterization)
    learner = TransferRatioLearner(model, settings) if mode == "learned" else None
    steps, start = 0, time.perf_counter()
    for batch in itertools.islice(itertools.cycle(train), a.steps):
        opt.zero_grad(set_to_none=True)
        loss, _ = model.training_loss(batch)
        loss.backward()
        opt.step()
        if learner and steps % a.interval == 0:
            vals = [next(val) for _ in range(settings.val_batches)]
            learner.step(batch, vals, eta=1e-3, precondition=learner.adam_preconditioner(opt))
        steps += 1
    return (time.perf_counter() - start) / steps


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--molecules", type=int, default=1024)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--interval", type=int, default=10)
    p.add_argument("--hypergradient", default="jvp", choices=["jvp", "finite-difference"])
    p.add_argument("--parameterization", default="softmax", choices=["softplus", "sigmoid", "softmax"])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--name", default="ratio_overhead", help="result file name (under results/)")
    a = p.parse_args()
    frame = pd.read_parquet(suite_dir("reference10") / "suite.parquet").sample(a.molecules, random_state=0)
    graphs = featurize(frame["smiles"].tolist(), progress=False)
    y = frame.drop(columns="smiles").to_numpy(dtype=np.float64)
    y = (y - np.nanmean(y, 0)) / np.nanstd(y, 0)
    times = {"uniform": [], "learned": []}
    for _ in range(a.repeats):
        for mode in times:
            times[mode].append(seconds_per_step(mode, graphs, y, a))
            print(f"{mode:8s} {times[mode][-1]:.3f} s/step", flush=True)
    best = {m: min(v) for m, v in times.items()}
    ratio = best["learned"] / best["uniform"]
    print(f"learned / uniform seconds per step: {ratio:.2f} (interval {a.interval}, {a.hypergradient}; "
          f"target < 1.5)")
    write_result(a.name, {"molecules": a.molecules, "tasks": int(y.shape[1]),
                          "interval": a.interval, "hypergradient": a.hypergradient,
                          "parameterization": a.parameterization, "val_batches": RatioSettings().val_batches,
                          "preconditioner": RatioSettings().preconditioner, "command": " ".join(sys.argv),
                          "seconds_per_step": times, "ratio": ratio})
    return 0


if __name__ == "__main__":
    sys.exit(main())
