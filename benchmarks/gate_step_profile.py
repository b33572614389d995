"""Where one training step of the default GATE goes, next to MTL, at K = 10 (issue 17).

The same batches for both models: ``--molecules`` training molecules of the main job's split
(reference10, scaffold seed 0, at most 1,500 training labels per task), sampled once (seeded), in
batches of 64, collated once before timing. Every number is a median over ``--rounds`` passes
over those batches (after one warm-up pass); run with ``OMP_NUM_THREADS=1``. On a loaded machine
absolute times are noisy: read the shares and the ratios.

Four views:

* **parts**: one instrumented step (forward + backward + Adam), the forward cut into its parts with
  ``time.perf_counter``: D-MPNN, perturbation views, per-task encoder MLPs, Transfer, heads,
  Inverse (auto), each loss term, then backward and the optimiser. The parts are the model's own
  calls, and their sum is checked against ``model.training_loss`` on the same noise.
* **marginal**: the plain step (``training_loss``, backward, Adam) with one alignment term switched
  off at a time: the difference is that term's forward *and* backward cost (the distance term's
  includes the perturbed passes it alone needs).
* **lightning**: the same batches through ``RegressionModule`` in a ``Trainer`` (as ``molgate
  train`` runs it, ``deterministic=True``, CSV logger), per-step time and the share spent inside
  ``self.log``/``self.log_dict``.
* **diagnostics**: the per-term gradient norms ``TermDiagnostics`` logs once per epoch, in steps
  and as a share of a main-job epoch.
* **ops**: the top operators of ``torch.profiler`` over one pass (self CPU time, forward and
  backward together).

    OMP_NUM_THREADS=1 python benchmarks/gate_step_profile.py [--molecules 512] [--rounds 5] [--tag after]

Writes ``results/gate_step_profile.json`` (one entry per ``--tag``, merged with earlier tags).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.profiler import ProfilerActivity, profile

from common import RESULTS, machine, reference10_split
from molgate.data.splits import load_split
from molgate.data.table import read_table
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GateConfig, build_model
from molgate.methods.gate_losses import (autoencoding_loss, consistency_loss, distance_loss,
                                         mapping_loss)
from molgate.methods.regression import regression_loss
from molgate.nn.gate_modules import split_rows
from molgate.train.diagnostics import term_gradient_norms
from molgate.train.module import RegressionModule, TrainSettings

TERMS = ("auto", "cons", "map", "dis")


class Clock:
    """Named wall-clock intervals, many samples each."""

    def __init__(self):
        self.samples: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        yield
        self.samples[name].append(time.perf_counter() - start)

    def medians(self) -> dict[str, float]:
        return {name: statistics.median(v) for name, v in self.samples.items()}


def load_batches(n_molecules: int, batch_size: int, seed: int):
    """The main job's training molecules (K = 10), ``n_molecules`` of them, as collated batches."""
    data, split_file, _ = reference10_split("gate_step_profile", seed=0, cap=1500)
    table, _ = read_table(data)
    train = load_split(split_file, table).train
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(train, size=min(n_molecules, len(train)), replace=False))
    y = table.y[train]
    mean, std = np.nanmean(y, 0), np.nanstd(y, 0)
    y = (table.y[idx] - mean) / np.where(std > 0, std, 1.0)
    graphs = featurize([table.smiles[i] for i in idx], progress=False)
    dataset = GraphDataset(graphs, y)
    batches = list(make_loader(dataset, batch_size, shuffle=True, seed=seed))
    return batches, table.tasks, int(dataset.mask.sum()), len(train)


def build(method: str, n_tasks: int, **weights):
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    extra = {}
    if method == "gate":
        gate = GateConfig()
        extra = {"gate": replace(gate, weights=replace(gate.weights, **weights)).to_dict()}
    return build_model(method, n_tasks, d_v, d_e, EncoderConfig(), extra)


def gate_parts_step(model, batch, clock: Clock) -> torch.Tensor:
    """One GATE step, its forward cut into parts; returns the loss."""
    w = model.gate.weights
    bmg, y, mask = batch.bmg, batch.y, batch.mask
    with clock("D-MPNN (trunk)"):
        e = model.shared_embedding(bmg)
    with clock("perturbation noise"):
        noise = model.perturbation_noise(model.perturbed_part(e), model.gate.perturb_count)
    with clock("encoder MLPs (1+M views)"):
        z_rows, b = model.latent_rows(bmg, e, noise)
        z = z_rows[:, :b]
    with clock("Transfer (1+M views)"):
        u, u_pert = split_rows(model.transfer(z_rows), b, model.gate.perturb_count)
    with clock("heads"):
        pred = model.predict_from_latent(z)
    with clock("Inverse (auto)"):
        z_rec = model.inverse(u)
    with clock("loss reg"):
        terms = {"reg": regression_loss(pred, y, mask, model.reduction)}
    with clock("loss auto"):
        terms["auto"] = autoencoding_loss(z, z_rec, w.form)
    with clock("loss cons"):
        terms["cons"] = consistency_loss(u, None, w.pair_reduction, w.form)
    with clock("loss map (Inverse+Head per pair)"):
        by_target = {"predict_by_target": model.map_by_target} if hasattr(model, "map_by_target") else {}
        terms["map"] = mapping_loss(u, y, model.map_to_target, mask, None, w.pair_reduction, **by_target)
    with clock("loss dis"):
        terms["dis"] = distance_loss(u, u_pert, None, w.pair_reduction, w.form)
    active = {"reg": 1.0, **w.active()}
    return sum(active[n] * terms[n] for n in active)


def mtl_parts_step(model, batch, clock: Clock) -> torch.Tensor:
    with clock("D-MPNN (trunk)"):
        h = model.encoder(batch.bmg)
    with clock("heads"):
        pred = model.heads(h)
    with clock("loss reg"):
        return regression_loss(pred, batch.y, batch.mask, model.reduction)


def check_parts(model, batch) -> float:
    """|parts loss - training_loss| on the same noise: the instrumented step is the model's."""
    torch.manual_seed(1)
    parts = gate_parts_step(model, batch, Clock())
    torch.manual_seed(1)
    loss, _ = model.training_loss(batch)
    return float((parts - loss).abs())


def interleaved_steps(models: dict, batches, rounds: int) -> dict[str, Clock]:
    """``rounds`` passes (plus one warm-up) of forward (``step``), backward and Adam for every
    ``name: (model, step)``, the models taking turns on each batch so that a change in the
    machine's load falls on all of them alike."""
    clocks = {name: Clock() for name in models}
    optimisers = {name: torch.optim.Adam(model.parameters(), lr=1e-4) for name, (model, _) in models.items()}
    for model, _ in models.values():
        model.train()
    for r in range(rounds + 1):
        for batch in batches:
            for name, (model, step) in models.items():
                c = clocks[name] if r else Clock()
                start = time.perf_counter()
                with c("forward"):
                    loss = step(model, batch, c)
                with c("backward"):
                    loss.backward()
                with c("optimizer"):
                    optimisers[name].step()
                    optimisers[name].zero_grad(set_to_none=True)
                c.samples["step"].append(time.perf_counter() - start)
    return clocks


def plain_step(model, batch, clock):
    return model.training_loss(batch)[0]


class StepTimer(L.Callback):
    def __init__(self):
        self.clock = Clock()
        self._start = 0.0

    def on_train_batch_start(self, *args):
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args):
        self.clock.samples["lightning step"].append(time.perf_counter() - self._start)


def _as_is(batch):
    return batch


def lightning_steps(model, batches, rounds: int) -> dict[str, float]:
    """Per-step time through ``RegressionModule`` and the time inside its logging calls."""
    module = RegressionModule(model, TrainSettings(epochs=rounds + 1, progress=False))
    timer = StepTimer()
    for name in ("log", "log_dict"):
        original = getattr(module, name)

        def timed(*args, _original=original, **kwargs):
            with timer.clock("self.log calls"):
                return _original(*args, **kwargs)

        setattr(module, name, timed)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_as_is)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(max_epochs=rounds + 1, accelerator="cpu", devices=1, logger=CSVLogger(tmp),
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, deterministic=True, log_every_n_steps=10,
                            limit_val_batches=0, callbacks=[timer])
        trainer.fit(module, loader)
    n = len(batches)
    steps = timer.clock.samples["lightning step"][n:]
    logs = timer.clock.samples["self.log calls"]
    per_step_log = sum(logs[len(logs) * 1 // (rounds + 1):]) / max(len(steps), 1)
    return {"lightning step": statistics.median(steps), "self.log calls per step": per_step_log}


def diagnostics_cost(gate, mtl, batches, plain: dict, train_size: int) -> dict:
    """The per-term gradient diagnostics (``TermDiagnostics``: once per epoch, one batch): their
    time in plain steps, and as a share of a main-job epoch of ``train_size`` molecules."""
    out = {}
    steps_per_epoch = -(-train_size // 64)
    for name, model in (("gate", gate), ("mtl", mtl)):
        samples = []
        for batch in batches:
            start = time.perf_counter()
            term_gradient_norms(model, batch)
            samples.append(time.perf_counter() - start)
        sec = statistics.median(samples)
        out[name] = {"seconds": sec, "in_steps": sec / plain[name],
                     "epoch_share": sec / (sec + steps_per_epoch * plain[name])}
        print(f"  diagnostics {name:5s} {1e3 * sec:8.1f} ms = {sec / plain[name]:4.1f} steps, "
              f"{100 * out[name]['epoch_share']:.1f}% of a {steps_per_epoch}-step epoch")
    return out


def top_ops(model, batches, count: int = 15) -> list[dict]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches:
            loss, _ = model.training_loss(batch)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "self_ms_per_step": e.self_cpu_time_total / 1e3 / len(batches),
             "share": e.self_cpu_time_total / total, "calls_per_step": e.count / len(batches)}
            for e in events[:count]]


def print_table(title: str, rows: dict[str, float], total: float):
    print(f"\n{title}")
    for name, sec in rows.items():
        print(f"  {name:36s} {1e3 * sec:8.1f} ms  {100 * sec / total:5.1f}%")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--molecules", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tag", default="current")
    p.add_argument("--skip", nargs="*", default=[], choices=["marginal", "lightning", "ops", "diagnostics"])
    a = p.parse_args()
    batches, tasks, labels, train_size = load_batches(a.molecules, a.batch_size, seed=0)
    K = len(tasks)
    print(f"K = {K}, {a.molecules} molecules, {labels} labels, {len(batches)} batches of {a.batch_size}, "
          f"threads {torch.get_num_threads()}")
    result: dict = {"machine": machine(), "molecules": a.molecules, "labels": labels, "K": K,
                    "batch_size": a.batch_size, "rounds": a.rounds}

    gate, mtl = build("gate", K), build("mtl", K)
    result["parts_check_abs_diff"] = check_parts(gate, batches[0])
    clocks = interleaved_steps({"gate": (gate, gate_parts_step), "mtl": (mtl, mtl_parts_step)}, batches, a.rounds)
    parts = {name: clock.medians() for name, clock in clocks.items()}
    for name, med in parts.items():
        forward_parts = {k: v for k, v in med.items() if k not in ("forward", "backward", "optimizer", "step")}
        rows = {**forward_parts, "forward, other": med["forward"] - sum(forward_parts.values()),
                "backward": med["backward"], "optimizer (Adam)": med["optimizer"]}
        print_table(f"{name}: one instrumented step, median {1e3 * med['step']:.1f} ms", rows, med["step"])
    result["parts"] = parts
    result["gate_over_mtl_instrumented_step"] = parts["gate"]["step"] / parts["mtl"]["step"]

    variants = {"gate": {}, **({} if "marginal" in a.skip else
                               {f"gate without {t}": {f"use_{t}": False} for t in TERMS}),
                "gate, no alignment": {f"use_{t}": False for t in TERMS}}
    models = {"mtl": (build("mtl", K), plain_step),
              **{name: (build("gate", K, **weights), plain_step) for name, weights in variants.items()}}
    clocks = interleaved_steps(models, batches, a.rounds)
    plain = {name: statistics.median(clock.samples["step"]) for name, clock in clocks.items()}
    result["plain_step"] = plain
    print("\nplain step (training_loss + backward + Adam), median, ratio to MTL (variants interleaved)")
    for name, sec in plain.items():
        extra = f"  term cost {1e3 * (plain['gate'] - sec):6.1f} ms" if name.startswith("gate without") else ""
        print(f"  {name:36s} {1e3 * sec:8.1f} ms  {sec / plain['mtl']:5.2f}x{extra}")

    if "diagnostics" not in a.skip:
        result["diagnostics"] = diagnostics_cost(models["gate"][0], models["mtl"][0], batches, plain, train_size)
    if "lightning" not in a.skip:
        result["lightning"] = {name: lightning_steps(build(name, K), batches, a.rounds) for name in ("gate", "mtl")}
        print("\nLightning (RegressionModule, deterministic=True)")
        for name, r in result["lightning"].items():
            print(f"  {name:5s} step {1e3 * r['lightning step']:7.1f} ms, self.log {1e3 * r['self.log calls per step']:5.2f} ms "
                  f"({100 * r['self.log calls per step'] / r['lightning step']:.1f}%), "
                  f"vs plain step {r['lightning step'] / plain[name]:.2f}x")
    if "ops" not in a.skip:
        result["ops_gate"] = top_ops(build("gate", K), batches)
        print("\ntorch.profiler, GATE, top operators by self CPU time (forward and backward)")
        for r in result["ops_gate"]:
            print(f"  {r['op']:48s} {r['self_ms_per_step']:7.2f} ms/step  {100 * r['share']:5.1f}%  "
                  f"{r['calls_per_step']:6.1f} calls")

    path = RESULTS / "gate_step_profile.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[a.tag] = result
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {path} [{a.tag}]")


if __name__ == "__main__":
    main()
