"""Issue 19: the cost of an add-task epoch as a ratio to an STL epoch on the same data.

Two frozen GATE models (default settings): ``large5``, pre-trained on the five large reference
tasks (today's task-addition protocol, K = 5), and ``suite35``, pre-trained on the whole suite
minus the five small tasks (K = 35, the size of the shipped suite model). Their training is short
(2 and 1 epochs on capped data): the cost of an addition does not depend on how well the frozen
model was trained. Each of the five small reference tasks is then learnt, on its scaffold split
(seed 0, training labels capped at 500 as in ``task_addition.py``, validation whole), by

* ``stl``: a single-task D-MPNN (what ``molgate train --method stl`` fits for one task);
* ``add``: ``add-task`` at its defaults before beta 100 (the pre-trained model's loss settings,
  ``alignment_defaults="model"``, as in every variant without its own; perturbation bank, frozen
  views cached, one mapping source per step, 16 perturbed molecules per batch, no diagnostics);
* ``add-p-all-map5``: the previous defaults (every molecule perturbed, 5 mapping sources);
* ``add-all-sources``: every frozen source in the mapping term on every step (exact);
* ``add-map1``: one mapping source per step, every molecule perturbed;
* ``add-frozen-trunk``: the new part's trunk kept at the pre-trained weights (``train_trunk=False``:
  only its MLPs train, on a cached embedding), to show what the MLPs cost alone;
* ``add+diag``: the defaults with the per-term gradient diagnostics on;
* ``add-strong-nodis``: the defaults with the strong raw terms and no distance term (the
  benchmark's ``add-task-strong-nodis``: raw form, alpha = gamma = 1, beta = 30, delta = 0;
  ``add-strong-nodis-b100`` with beta 100; ``add-frozen-nodis-b100``: that with the new trunk
  frozen, the benchmark's ``add-task-frozen-nodis-b100``; ``add-strong-nodis-b100-a16`` (and
  ``-a8``, ``-a32``): the trained trunk with the auto-encoding and pair terms estimated on 16
  of a batch's 64 molecules, ``align_molecules``; ``add-strong-nodis-b100-z100`` (and ``-z50``,
  ``-z150``, ``-z200``): the new task's own latent width 100 instead of the model's 300,
  ``latent_size``; ``add-strong-nodis-b100-t0``: its Transfer and Inverse affine,
  ``transfer_layers=0``; ``add-strong-nodis-b100-noauto``: alpha 0);
* ``add-old``: the earlier default (fresh perturbations per step, frozen MLPs run on every step,
  diagnostics on).

Each run trains ``--epochs`` epochs (no early stop) through the real ``fit_model`` (Lightning,
validation included); its epoch cost is the median wall time between consecutive epoch starts,
the first epoch left out. ``steps`` times the bare training steps (forward, backward, Adam) of one
epoch, without Lightning and validation, median of three; ``step matmul FLOPs`` counts the
matrix-multiply FLOPs of one such epoch (forward and backward, ``torch.utils.flop_counter``): where
the time ratio follows it, the extra cost is arithmetic, not overhead. The machine is shared and
noisy, so only ratios to the STL run of the same task and repeat are reported, with runs
alternating in a rotating order; the table gives the median over tasks x repeats (>= 3 repeats).

    cd benchmarks && OMP_NUM_THREADS=1 ../.venv/bin/python task_addition_cost.py [--repeats 3]

Writes ``results/task_addition_cost.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

from common import RESULTS, WORK, epoch_matmul_flops, machine, suite_dir

from molgate import api
from molgate.benchmark.plan import STRONG_ALIGNMENT
from molgate.data.splits import cap_train_per_task, make_split, save_split
from molgate.data.table import read_table
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, featurize
from molgate.jobs.add_task import prepare_addition
from molgate.methods import MTLModel
from molgate.train.checkpoint import load_model
from molgate.train.fit import fit_model
from molgate.train.module import TrainSettings

LARGE = ["melting_point", "boiling_point", "density", "refractive_index", "hvap_298"]
SMALL = ["surface_tension_298", "viscosity_298", "dielectric_constant", "parachor", "hydration_free_energy"]
CAP = 500
OUT = WORK / "task_addition_cost"
#: the strong raw terms, no distance term, beta 100: the base of every one-change ``b100`` variant
B100 = {"alignment": dict(STRONG_ALIGNMENT, delta=0.0, beta=100.0)}
#: the variants measured before ``beta 100`` became the default keep the pre-trained model's loss settings
MODEL = {"alignment_defaults": "model"}
VARIANTS = {"add": MODEL, "add-p-all-map5": {"perturb_molecules": None, "map_sources": 5, **MODEL},
            "add-all-sources": {"map_sources": None, **MODEL},
            "add-map1": {"map_sources": 1, "perturb_molecules": None, **MODEL},
            "add-frozen-trunk": {"train_trunk": False, **MODEL}, "add+diag": {"diagnostics": True, **MODEL},
            "add-old": {"perturbations": "per_step", "map_sources": None, "diagnostics": True, **MODEL},
            "add-strong-nodis": {"alignment": dict(STRONG_ALIGNMENT, delta=0.0)},
            "add-strong-nodis-b100": B100,
            "add-frozen-nodis-b100": dict(B100, train_trunk=False),
            **{f"add-strong-nodis-b100-a{a}": dict(B100, align_molecules=a) for a in (8, 16, 32)},
            **{f"add-strong-nodis-b100-z{z}": dict(B100, latent_size=z) for z in (50, 100, 150, 200)},
            "add-strong-nodis-b100-t0": dict(B100, transfer_layers=0),
            "add-strong-nodis-b100-noauto": {"alignment": dict(B100["alignment"], alpha=0.0)}}


class EpochStarts(L.Callback):
    """Wall-clock time at the start of every training epoch, and at the end of the fit."""

    def __init__(self):
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.times.append(time.perf_counter())

    def on_fit_end(self, trainer, pl_module):
        self.times.append(time.perf_counter())


def pretrain(name: str, tasks: list[str], cap: int, epochs: int, data: Path) -> Path:
    """A default GATE on ``tasks`` (random split, ``cap`` training labels per task), once."""
    model = OUT / name
    if not (model / "config.json").exists():
        table, _ = read_table(data, targets=tasks)
        split = cap_train_per_task(table, make_split(table, "random", 0), cap, 0)
        split_file = save_split(split, table, OUT / f"{name}_split.json")
        api.train(data, targets=tasks, method="gate", split_file=split_file, out=model, epochs=epochs,
                  progress=False)
    return model


def task_data(data: Path, task: str, featurizer: FeaturizerSettings):
    """Training and validation graphs and labels of one small task (scaffold seed 0, capped)."""
    table, _ = read_table(data, targets=[task])
    table = table.subset(np.flatnonzero(table.mask[:, 0]))
    split = cap_train_per_task(table, make_split(table, "scaffold", 0), CAP, 0)
    graphs = featurize(table.smiles, featurizer, progress=False)
    return ([graphs[i] for i in split.train], table.y[split.train],
            [graphs[i] for i in split.val], table.y[split.val])


def step_seconds(model, data: GraphDataset, batch_size: int = 64) -> float:
    """Median over three of one epoch of bare training steps (the first pass warms up)."""
    # the trainer's optimiser (train/module.py): fused Adam over the trained parameters
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=True)
    model.train()
    times = []
    for _ in range(4):
        start = time.perf_counter()
        for batch in make_loader(data, batch_size, shuffle=True, seed=0):
            loss, _ = model.training_loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def run_variant(variant: str, frozen, inputs, epochs: int, seed: int, work: Path) -> dict:
    train_graphs, y_train, val_graphs, y_val = inputs
    torch.manual_seed(seed)
    if variant == "stl":
        model = MTLModel(1, frozen.d_v, frozen.d_e, frozen.config)
        model.scaler.fit(y_train)
        with torch.no_grad():
            train, val = (GraphDataset(g, model.scaler.transform(torch.as_tensor(y, dtype=torch.float32)).numpy())
                          for g, y in ((train_graphs, y_train), (val_graphs, y_val)))
        cache_seconds = 0.0
    else:
        addition = prepare_addition(frozen, train_graphs, y_train, val_graphs, y_val, seed=seed,
                                    **VARIANTS[variant])
        model, train, val, cache_seconds = addition.view, addition.train, addition.val, addition.cache_seconds
    timer = EpochStarts()
    settings = TrainSettings(epochs=epochs, patience=epochs, seed=seed, progress=False)
    fit = fit_model(model, train, val, work, settings, name=variant, callbacks=[timer])
    epoch_seconds = float(np.median(np.diff(timer.times)[1:]))
    flops = epoch_matmul_flops(model, make_loader(train, 64, shuffle=True, seed=0))  # one epoch of steps
    return {"epoch_s": epoch_seconds, "fit_s_per_epoch": fit.seconds / fit.epochs_run,
            "steps_s": step_seconds(model, train), "matmul_flops": flops,
            "cache_s": cache_seconds, "epochs": fit.epochs_run, "train_molecules": len(train)}


def summarise(rows: list[dict]) -> dict:
    summary = {}
    for frozen in sorted({r["frozen"] for r in rows}):
        stl = {(r["task"], r["repeat"]): r for r in rows if r["frozen"] == frozen and r["variant"] == "stl"}
        for variant in VARIANTS:
            mine = [r for r in rows if r["frozen"] == frozen and r["variant"] == variant
                    and (r["task"], r["repeat"]) in stl]
            if not mine:
                continue
            ratio = {key: [r[key] / stl[(r["task"], r["repeat"])][key] for r in mine]
                     for key in ("epoch_s", "fit_s_per_epoch", "steps_s", "matmul_flops")
                     if all(key in r for r in (*mine, *stl.values()))}
            cache = [r["cache_s"] / stl[(r["task"], r["repeat"])]["epoch_s"] for r in mine]
            summary[f"{frozen}/{variant}"] = {
                "epoch_ratio_median": float(np.median(ratio["epoch_s"])),
                "epoch_ratio_range": [float(min(ratio["epoch_s"])), float(max(ratio["epoch_s"]))],
                "fit_per_epoch_ratio_median": float(np.median(ratio["fit_s_per_epoch"])),
                "steps_ratio_median": float(np.median(ratio["steps_s"])),
                "matmul_flops_ratio_median": (float(np.median(ratio["matmul_flops"])) if "matmul_flops" in ratio
                                              else None),
                "cache_in_stl_epochs_median": float(np.median(cache)), "n": len(mine)}
    return summary


def table(summary: dict) -> str:
    lines = ["| frozen / variant | epoch / STL epoch (median, range) | fit s per epoch / STL | "
             "training steps / STL | step matmul FLOPs / STL | one-off cache, in STL epochs | n |",
             "|---|---|---|---|---|---|---|"]
    for name, s in summary.items():
        lo, hi = s["epoch_ratio_range"]
        flops = "-" if s.get("matmul_flops_ratio_median") is None else f"{s['matmul_flops_ratio_median']:.2f}"
        lines.append(f"| {name} | {s['epoch_ratio_median']:.2f} ({lo:.2f}-{hi:.2f}) | "
                     f"{s['fit_per_epoch_ratio_median']:.2f} | {s['steps_ratio_median']:.2f} | {flops} | "
                     f"{s['cache_in_stl_epochs_median']:.2f} | {s['n']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--tasks", nargs="+", default=SMALL)
    parser.add_argument("--frozen", nargs="+", default=["large5", "suite35"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--name", default="task_addition_cost", help="results/<name>.json")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = suite_dir("all") / "suite.parquet"
    everything = read_table(data)[0].tasks
    models = {"large5": lambda: pretrain("large5", LARGE, CAP, 2, data),
              "suite35": lambda: pretrain("suite35", [t for t in everything if t not in SMALL], 100, 1, data)}
    frozen = {name: load_model(models[name]())[0] for name in args.frozen}
    featurizer = FeaturizerSettings(**json.loads((OUT / args.frozen[0] / "config.json").read_text())["featurizer"])
    inputs = {task: task_data(data, task, featurizer) for task in args.tasks}
    order = ["stl", *args.variants]
    rows = []
    for repeat in range(args.repeats):
        for name, model in frozen.items():
            for task in args.tasks:
                shift = (repeat + args.tasks.index(task)) % len(order)
                for variant in order[shift:] + order[:shift]:  # rotating, so drift hits every variant
                    row = run_variant(variant, model, inputs[task], args.epochs, repeat, OUT / "runs" / name / task)
                    rows.append({"frozen": name, "n_frozen_tasks": model.n_tasks, "task": task,
                                 "repeat": repeat, "variant": variant, **row})
                    print(f"{name} r{repeat} {task:22s} {variant:9s} epoch {row['epoch_s']:.3f} s "
                          f"steps {row['steps_s']:.3f} s cache {row['cache_s']:.2f} s", flush=True)
    summary = summarise(rows)
    text = table(summary)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({
        "machine": machine(),
        "command": f"cd benchmarks && OMP_NUM_THREADS={torch.get_num_threads()} ../.venv/bin/python "
        f"task_addition_cost.py --repeats {args.repeats} --epochs {args.epochs} --frozen {' '.join(args.frozen)} "
        f"--variants {' '.join(args.variants)} --name {args.name}",
        "settings": {"large": LARGE, "small": args.tasks, "cap": CAP, "epochs": args.epochs,
                     "repeats": args.repeats, "variants": {v: VARIANTS[v] for v in args.variants}},
        "summary": summary, "table": text, "rows": rows}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
