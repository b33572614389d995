"""GATE hyperparameters chosen on validation data only: a small one-at-a-time sweep.

Starting from the defaults, each variant changes one of the weights alpha (auto-encoding), beta
(consistency), gamma (mapping) or delta (distance). Every variant trains GATE on the first split
type's seed-0 split (capped like the benchmark) and is scored by its best *validation* loss; the
test split is never read. Results are saved per variant (``OUT/sweep/``), so the sweep resumes too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from molgate.benchmark.plan import BenchmarkConfig
from molgate.benchmark.run import prepare_data, split_for, task_names
from molgate.data.table import read_table
from molgate.jobs.train import train
from molgate.methods import GateConfig

#: one change at a time from the defaults; with the scale-free terms a factor of 3 either way moves
#: a term's gradient share by about that factor (the perturbation scale no longer sets the size of
#: the distance term, so it is not swept)
VARIANTS: list[dict] = [{}, {"beta": 0.01}, {"beta": 0.1}, {"delta": 0.01}, {"delta": 0.1},
                        {"alpha": 0.01}, {"gamma": 0.1}]


def variant_config(base: GateConfig, change: dict) -> GateConfig:
    weights = {k: v for k, v in change.items() if k in ("alpha", "beta", "gamma", "delta")}
    other = {k: v for k, v in change.items() if k not in weights}
    return replace(base, weights=replace(base.weights, **weights), **other)


def sweep_gate(config: BenchmarkConfig, out: str | Path) -> tuple[GateConfig, list[dict]]:
    """Train every variant; return the one with the lowest validation loss and all scores."""
    out = Path(out)
    folder = out / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    data_file = prepare_data(config, out)
    table, _ = read_table(data_file, targets=task_names(config))
    split_file, _ = split_for(table, config.splits[0], config.seeds[0], config, out)
    scores = []
    for i, change in enumerate(VARIANTS):
        path = folder / f"variant{i}.json"
        if not path.exists():
            gate = variant_config(config.gate, change)
            r = train(data_file, targets=table.tasks, method="gate", split_file=split_file,
                      seed=config.seeds[0], out=folder / f"variant{i}", epochs=config.epochs,
                      patience=config.patience, hidden_size=config.hidden_size,
                      ffn_hidden_size=config.hidden_size, batch_size=config.batch_size,
                      progress=False, gate=gate)
            path.write_text(json.dumps({"change": change, "val_loss": r.fit["all"]["best_val_loss"],
                                        "seconds": r.seconds}))
        scores.append(json.loads(path.read_text()))
    best = min(scores, key=lambda s: s["val_loss"])
    lines = ["| variant | validation loss (standardised MSE) |", "|---|---|"]
    lines += [f"| {s['change'] or 'defaults'} | {s['val_loss']:.4f}{' (chosen)' if s is best else ''} |"
              for s in scores]
    (folder / "sweep.md").write_text("\n".join(lines) + "\n")
    return variant_config(config.gate, best["change"]), scores
