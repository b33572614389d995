"""Which GATE does measurable work? Variants side by side at the main job's setting.

reference10, balanced scaffold split (seed 0 by default), at most ``--cap`` training labels per
task (validation and test whole), ``--epochs`` epochs. For every variant it records:

* ``val_score``: the mean over tasks of (validation RMSE / training std)^2, the same number for
  every method whatever its own loss; defaults are chosen on this alone;
* test RMSE and Pearson per task (reported, never used to choose);
* seconds per epoch, and the per-term gradient shares averaged over epochs (GATE).

One result file per (variant, seed) under ``results/gate_alignment_trial/``: a rerun skips what
exists, so the script resumes, and each file can be committed as it lands.

    python gate_alignment_trial.py --variants mtl mtl-balanced trunk trunk-noalign --seeds 0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from common import RESULTS, machine, reference10_split

from molgate import api
from molgate.benchmark.plan import STRONG_ALIGNMENT
from molgate.benchmark.report import paired_tests
from molgate.data.splits import load_split
from molgate.data.table import read_table
from molgate.evaluate.metrics import task_metrics
from molgate.evaluate.training_plots import epoch_diagnostics
from molgate.methods import GateConfig
from molgate.methods.gate_losses import GateLossWeights

OFF = dict(use_auto=False, use_cons=False, use_map=False, use_dis=False)
#: trunk with perturbation distances at weights 1 gives gradient shares (encoders, epoch 1) of
#: auto 0.64, cons 0.33, map 0.61, dis 2.2; these weights bring each into 0.2-0.35.
#: separate with batch distances at weights 1: auto 0.33, cons 0.42, map 0.30, dis 0.10.
TUNED = dict(alpha=0.5, beta=1.0, gamma=0.5, delta=0.1)
#: name -> (method, reduction, GateConfig keyword arguments, GateLossWeights keyword arguments)
VARIANTS: dict[str, tuple] = {
    "mtl": ("mtl", "pooled", {}, {}),
    "mtl-balanced": ("mtl", "per-task", {}, {}),
    "stl": ("stl", "pooled", {}, {}),
    "trunk-w1": ("gate", "per-task", dict(sharing="trunk"), {}),
    "trunk": ("gate", "per-task", dict(sharing="trunk"), TUNED),
    "trunk-w0.03": ("gate", "per-task", dict(sharing="trunk"),
                    dict(alpha=0.03, beta=0.03, gamma=0.03, delta=0.03)),
    "trunk-noalign": ("gate", "per-task", dict(sharing="trunk"), OFF),
    "trunk-raw": ("gate", "per-task", dict(sharing="trunk"), dict(form="raw")),
    "separate-batch": ("gate", "per-task", dict(sharing="separate"), dict(distance_form="batch")),
    "separate-batch-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                            dict(distance_form="batch")),
    "separate-pert-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100), TUNED),
    "separate-noalign-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100), OFF),
    "separate-noalign": ("gate", "per-task", dict(sharing="separate"), OFF),
    "separate-w0.1-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                           dict(distance_form="batch", alpha=0.1, beta=0.1, gamma=0.1, delta=0.1)),
    "separate-w0.03-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                            dict(distance_form="batch", alpha=0.03, beta=0.03, gamma=0.03, delta=0.03)),
    "separate-nomap-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                            dict(distance_form="batch", use_map=False)),
    "separate-maponly-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                              dict(distance_form="batch", use_auto=False, use_cons=False, use_dis=False)),
    # the one-seed trial (``--sharing separate --beta 30 --delta 10000`` when every weight
    # defaulted to 1 and the terms were plain MSEs), in today's code: is its -6.5% vs MTL real?
    "separate-raw-strong": ("gate", "per-task", dict(sharing="separate"),
                            STRONG_ALIGNMENT),
    # which of the strong terms does the work: mapping alone, or everything but mapping
    "separate-raw-maponly": ("gate", "per-task", dict(sharing="separate"),
                             dict(form="raw", gamma=1.0, use_auto=False, use_cons=False, use_dis=False)),
    "separate-raw-strong-nomap": ("gate", "per-task", dict(sharing="separate"),
                                  dict(STRONG_ALIGNMENT, use_map=False)),
    # the strong terms without the distance term: no perturbed passes, so about noalign's cost
    "separate-raw-strong-nodis": ("gate", "per-task", dict(sharing="separate"),
                                  dict(STRONG_ALIGNMENT, use_dis=False)),
    # the strong terms with the distance term on each task's perturbed molecule vector (no extra
    # message passing); delta 3500 gives it the input site's gradient at delta 10000 at
    # initialisation (gate_perturb_at_scale.py)
    "separate-raw-strong-molpert": ("gate", "per-task", dict(sharing="separate", perturb_at="molecule"),
                                    dict(STRONG_ALIGNMENT, delta=3500.0)),
    "trunk-raw-strong": ("gate", "per-task", dict(sharing="trunk"),
                         STRONG_ALIGNMENT),
    # the cheap encoders with the strong terms that work on separate ones (distance term off):
    # does the alignment's gain survive a shared trunk, or narrow per-task D-MPNNs (width 100)?
    "trunk-raw-strong-nodis": ("gate", "per-task", dict(sharing="trunk"),
                               dict(STRONG_ALIGNMENT, use_dis=False)),
    "separate-h100-raw-strong-nodis": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                                       dict(STRONG_ALIGNMENT, use_dis=False)),
    "separate-strong-h100": ("gate", "per-task", dict(sharing="separate", task_hidden_size=100),
                             dict(distance_form="batch", beta=3.0, delta=3.0)),
}


def split_metrics(est, table, idx) -> dict:
    pred = est.predict([table.smiles[i] for i in idx])
    return task_metrics(table.y[idx], pred, table.tasks)


def run_variant(name: str, seed: int, epochs: int, cap: int) -> dict:
    method, reduction, gate_kw, weight_kw = VARIANTS[name]
    data, split_file, work = reference10_split("gate_alignment_trial", seed, cap)
    table, _ = read_table(data)
    split = load_split(split_file, table)
    gate = GateConfig(weights=GateLossWeights(**weight_kw), **gate_kw)
    folder = work / f"{name}_seed{seed}_e{epochs}_cap{cap}"
    start = time.perf_counter()
    r = api.train(data, method=method, split_file=split_file, out=folder, seed=seed, epochs=epochs,
                  patience=epochs, progress=False, gate=gate, reduction=reduction, overwrite=True)
    wall = time.perf_counter() - start
    est = api.PropertyRegressor.load(r.model_dir)
    val, test = split_metrics(est, table, split.val), split_metrics(est, table, split.test)
    std = {t: float(np.nanstd(table.y[split.train, k])) for k, t in enumerate(table.tasks)}
    val_score = float(np.mean([(val[t]["rmse"] / std[t]) ** 2 for t in table.tasks]))
    fits = list(r.fit.values())
    epochs_run = sum(f["epochs_run"] for f in fits)
    result = {"variant": name, "seed": seed, "epochs": epochs, "cap": cap, "method": method,
              "reduction": reduction, "gate": gate.to_dict() if method == "gate" else None,
              "val_score": val_score, "val": val, "test": test, "train_seconds": r.seconds,
              "wall_seconds": wall, "seconds_per_epoch": r.seconds / max(epochs_run, 1) * len(fits),
              "best_epoch": [f["best_epoch"] for f in fits], "machine": machine()}
    metrics_csv = folder / "logs" / "metrics.csv"
    if method == "gate" and metrics_csv.exists():
        diag = epoch_diagnostics(metrics_csv)
        result["term_shares"] = {c[5:-6]: float(diag[c].mean()) for c in diag if c.endswith("_share")}
        result["term_values"] = {c[5:-6]: float(diag[c].mean()) for c in diag if c.endswith("_value")}
    return result


#: (variant, baseline) pairs summarised over every seed both have: the first isolates the alignment
#: (same encoders, heads and reduction, alignment off), the others compare with MTL.
PAIRED = [("separate-raw-strong", "separate-noalign"), ("separate-raw-strong", "mtl"),
          ("separate-raw-strong", "mtl-balanced"), ("separate-noalign", "mtl"),
          ("separate-noalign", "mtl-balanced"), ("separate-raw-maponly", "separate-noalign"),
          ("separate-raw-strong-nomap", "separate-noalign"), ("separate-raw-strong", "separate-raw-maponly"),
          ("separate-raw-strong-nodis", "separate-noalign"), ("separate-raw-strong-nodis", "mtl-balanced"),
          ("separate-raw-strong", "separate-raw-strong-nodis"),
          ("separate-raw-strong-molpert", "separate-noalign"), ("separate-raw-strong-molpert", "mtl-balanced"),
          ("separate-raw-strong", "separate-raw-strong-molpert"),
          ("trunk-raw-strong-nodis", "trunk-noalign"), ("trunk-raw-strong-nodis", "mtl-balanced"),
          ("separate-h100-raw-strong-nodis", "separate-noalign-h100"),
          ("separate-h100-raw-strong-nodis", "mtl-balanced"),
          ("separate-raw-strong-nodis", "separate-h100-raw-strong-nodis")]


def paired_lines(rows: list[dict], epochs: int = 8, cap: int = 500) -> list[str]:
    """Per (variant, baseline): (task, seed) pairs where the variant's test RMSE is lower, the mean
    relative change, and the two-sided Wilcoxon signed-rank p over the pairs."""
    frame = pd.DataFrame([{"method": r["variant"], "seed": r["seed"], "task": t, "rmse": m["rmse"]}
                          for r in rows if (r["epochs"], r["cap"]) == (epochs, cap)
                          for t, m in r["test"].items()])
    if frame.empty:
        return []
    lines = [f"Paired over (task, seed), {epochs} epochs, cap {cap}:", "",
             "| variant | baseline | seeds | pairs better | mean RMSE change | Wilcoxon p |", "|---|---|---|---|---|---|"]
    for variant, base in PAIRED:
        seeds = sorted(set(frame.seed[frame.method == variant]) & set(frame.seed[frame.method == base]))
        sub = frame[frame.method.isin([variant, base]) & frame.seed.isin(seeds)]
        if not seeds or len(sub) < 4:
            continue
        t = paired_tests(sub, variant)[0]
        lines.append(f"| {variant} | {base} | {' '.join(map(str, seeds))} | {t['gate_better']}/{t['pairs']} | "
                     f"{t['mean_relative_rmse_change_%']:+.1f}% | {t['p_value']:.2g} |")
    return lines + [""]


def report(folder) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    base = {(r["seed"], r["epochs"], r["cap"]): r for r in rows if r["variant"] == "mtl"}
    lines = ["| variant | seed | epochs | cap | val score | tasks better than MTL (test) | mean RMSE change vs MTL "
             "| s/epoch | shares auto / cons / map / dis |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["cap"], r["epochs"], r["seed"], r["val_score"])):
        m = base.get((r["seed"], r["epochs"], r["cap"]))
        if m:
            change = [r["test"][t]["rmse"] / m["test"][t]["rmse"] - 1 for t in r["test"]]
            better, mean = f"{sum(c < 0 for c in change)}/{len(change)}", f"{100 * np.mean(change):+.1f}%"
        else:
            better = mean = "-"
        shares = r.get("term_shares", {})
        share_text = " / ".join(f"{shares[t]:.2f}" if t in shares else "-" for t in ("auto", "cons", "map", "dis"))
        lines.append(f"| {r['variant']} | {r['seed']} | {r['epochs']} | {r['cap']} | {r['val_score']:.4f} | {better} | {mean} | "
                     f"{r['seconds_per_epoch']:.0f} | {share_text} |")
    return "\n".join(paired_lines(rows) + lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--cap", type=int, default=1500)
    a = p.parse_args()
    folder = RESULTS / "gate_alignment_trial"
    folder.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        for name in a.variants:
            path = folder / f"{name}_seed{seed}_e{a.epochs}_cap{a.cap}.json"
            if path.exists():
                continue
            result = run_variant(name, seed, a.epochs, a.cap)
            path.write_text(json.dumps(result, indent=1))
            print(f"{name} seed {seed}: val score {result['val_score']:.4f}, "
                  f"{result['seconds_per_epoch']:.0f} s/epoch", flush=True)
    text = report(folder)
    (RESULTS / "gate_alignment_trial.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
