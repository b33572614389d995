"""Issue 19: how long ``molgate pretrain`` (the default GATE on the whole ``all`` suite, every
label, up to 50 epochs) takes on this machine, without running it.

Method: the same model and data as the real run (the ``all`` suite, its balanced scaffold split,
seed 0, the default GATE with one head per task), timed per step: the median of ``--steps``
training steps (forward, backward, Adam; batches of 64 drawn from the real training split, after
3 warm-up steps) and of 5 validation batches (forward only), and the trainer's per-term
diagnostics (once per epoch). An epoch is then ``steps_per_epoch * step + val_batches * val_batch +
diagnostics``; a full pre-training adds the suite build and
featurisation (measured) and multiplies the epoch by the epochs run. ``--check CAP`` also runs a
real one-epoch ``pretrain`` capped at CAP training labels per task and compares its epoch time
with the same estimate made on that capped split, which says how far the method can be trusted.

    cd benchmarks && OMP_NUM_THREADS=1 ../.venv/bin/python task_addition_pretrain_time.py [--check 100]

Writes ``results/task_addition_pretrain_time.json``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from common import RESULTS, WORK, machine, suite_dir

from molgate.data.splits import cap_train_per_task, make_split
from molgate.data.table import read_table
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.jobs.pretrain import pretrain
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.train.diagnostics import term_gradient_norms

BATCH = 64


def per_step(table, split, steps: int) -> dict:
    """Median seconds of a training step and of a validation batch of the default GATE."""
    torch.manual_seed(0)
    used = np.union1d(split.train, split.val)
    start = time.perf_counter()
    graphs = dict(zip(used.tolist(), featurize([table.smiles[i] for i in used], FeaturizerSettings(),
                                               progress=False)))
    featurise = time.perf_counter() - start
    model = GATEModel(len(table.tasks), *feature_dims(FeaturizerSettings()), EncoderConfig(), GateConfig())
    model.scaler.fit(table.y[split.train])
    with torch.no_grad():
        y = model.scaler.transform(torch.as_tensor(table.y, dtype=torch.float32)).numpy()
    train = GraphDataset([graphs[i] for i in split.train], y[split.train])
    val = GraphDataset([graphs[i] for i in split.val], y[split.val])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)  # as the trainer's (train/module.py)
    times = []
    model.train()
    for i, batch in enumerate(make_loader(train, BATCH, shuffle=True, seed=0)):
        if i == steps + 3:
            break
        begin = time.perf_counter()
        loss, _ = model.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - begin)
    model.eval()
    val_times = []
    with torch.no_grad():
        for i, batch in enumerate(make_loader(val, BATCH)):
            if i == 5:
                break
            begin = time.perf_counter()
            model(batch.bmg)
            val_times.append(time.perf_counter() - begin)
    begin = time.perf_counter()
    term_gradient_norms(model.train(), batch)  # the trainer's per-term diagnostics, once per epoch
    diagnostics = time.perf_counter() - begin
    step, val_batch = float(np.median(times[3:])), float(np.median(val_times))
    n_steps, n_val = -(-len(split.train) // BATCH), -(-len(split.val) // BATCH)
    return {"train_molecules": int(len(split.train)), "val_molecules": int(len(split.val)),
            "step_s": step, "val_batch_s": val_batch, "diagnostics_s": diagnostics, "steps_per_epoch": n_steps,
            "val_batches": n_val, "epoch_s_estimate": n_steps * step + n_val * val_batch + diagnostics,
            "featurise_s": featurise, "steps_timed": len(times) - 3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--check", type=int, default=None, help="also run a real capped one-epoch pretrain")
    args = parser.parse_args()
    start = time.perf_counter()
    folder = suite_dir("all")
    build = time.perf_counter() - start  # 0 when the build was already there; see below
    table, _ = read_table(folder / "suite.parquet")
    split = make_split(table, "scaffold", 0)
    full = per_step(table, split, args.steps)
    result = {"machine": machine(), "tasks": len(table.tasks), "full": full}
    suite_build_s = 55.0 if build < 1 else build  # measured: the `all` build takes 44-88 s on 2 cores
    for epochs in (10, 30, 50):
        result[f"pretrain_h_{epochs}_epochs"] = (suite_build_s + full["featurise_s"] + epochs * full["epoch_s_estimate"]) / 3600
    if args.check:
        capped = cap_train_per_task(table, split, args.check, 0)
        estimate = per_step(table, capped, args.steps)
        run = pretrain(WORK / "pretrain_time_check", tasks="all", max_per_task=args.check, epochs=1,
                       suite_dir=folder, progress=False)
        config = json.loads((run.model_dir / "config.json").read_text())
        measured = config["fit"]["all"]["seconds"]
        result["check"] = {"cap": args.check, "estimate": estimate, "measured_epoch_s": measured,
                           "measured_over_estimate": measured / estimate["epoch_s_estimate"]}
    (RESULTS / "task_addition_pretrain_time.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
