r"""Two regimes of one benchmark side by side: does GATE's edge grow when the sources have all their data?

For each split both folders ran, per task and baseline ``b``, GATE's relative RMSE change

.. math:: \Delta_b(t) = \overline{RMSE}_{gate}(t) / \overline{RMSE}_b(t) - 1

(means over the seeds each regime finished), in the capped regime and in the full one; negative is
GATE better. The summary gives the mean of :math:`\Delta_b` over tasks and the tasks GATE wins, per
regime, and the mean training labels per task, which is what the regimes differ in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from molgate.benchmark.report import GATE_FIRST, results_frame
from molgate.evaluate.plots import grouped_bar_chart

BASELINES = ("mtl", "mtl-balanced", "gate-noalign", "stl", "chemprop-mtl", "chemprop-stl")


def regime_label(settings: dict) -> str:
    cap = settings.get("max_per_task")
    return (f"cap {cap}" if cap else "no cap") + f", {settings.get('epochs')} epochs"


def load_regime(folder: str | Path) -> tuple[str, list[dict]]:
    """``(label, results)`` from a benchmark folder's ``results.json``."""
    data = json.loads((Path(folder) / "results.json").read_text())
    return regime_label(data["settings"]), data["results"]


def gate_edges(results: list[dict], split: str) -> tuple[str | None, pd.DataFrame]:
    """GATE's % RMSE change against each baseline, per task (rows) and baseline (columns)."""
    frame = results_frame(results)
    part = frame[frame["split"] == split]
    mean = part.groupby(["task", "method"], sort=False)["rmse"].mean().unstack("method")
    gate = next((g for g in GATE_FIRST if g in mean.columns), None)
    if gate is None:
        return None, pd.DataFrame()
    cols = {b: 100.0 * (mean[gate] / mean[b] - 1.0) for b in BASELINES if b in mean.columns}
    return gate, pd.DataFrame(cols, index=mean.index)


def mean_train_labels(results: list[dict], split: str) -> float:
    counts = [n for r in results if r["split"] == split for n in r.get("train_labels", {}).values()]
    return float(sum(counts) / len(counts)) if counts else float("nan")


def regime_lines(here: str | Path, other: str | Path, figure_dir: str | Path) -> list[str]:
    """Markdown comparing GATE's edge in the benchmark ``here`` with the one in ``other``."""
    regimes = [load_regime(here), load_regime(other)]
    labels = [r[0] for r in regimes]
    if labels[0] == labels[1]:
        labels = [f"{labels[0]} ({Path(here).name})", f"{labels[1]} ({Path(other).name})"]
    lines = [f"## Regimes side by side: {labels[0]} (this folder) and {labels[1]} (`{other}`)", "",
             "GATE's % change in mean test RMSE against each baseline (negative = GATE better).", ""]
    splits = [s for s in dict.fromkeys(r["split"] for r in regimes[0][1])
              if any(x["split"] == s for x in regimes[1][1])]
    if not splits:
        return lines + ["The two folders share no split.", ""]
    for split in splits:
        edges = [gate_edges(results, split) for _, results in regimes]
        if edges[0][0] is None or edges[1][0] is None:
            lines += [f"### {split}: GATE did not run in both regimes", ""]
            continue
        tasks = [t for t in edges[0][1].index if t in edges[1][1].index]
        bases = [b for b in edges[0][1].columns if b in edges[1][1].columns]
        seeds = [sorted({r["seed"] for r in results if r["split"] == split}) for _, results in regimes]
        lines += [f"### {split} split (seeds {seeds[0]} and {seeds[1]}; mean training labels per task "
                  f"{mean_train_labels(regimes[0][1], split):.0f} and {mean_train_labels(regimes[1][1], split):.0f})",
                  "", "| task | " + " | ".join(f"vs {b}: {lab}" for b in bases for lab in labels) + " |",
                  "|---|" + "---|" * (2 * len(bases))]
        for t in tasks:
            lines.append(f"| {t} | " + " | ".join(f"{e[1].loc[t, b]:+.1f}" for b in bases for e in edges) + " |")
        lines.append("| mean | " + " | ".join(f"{e[1].loc[tasks, b].mean():+.1f}" for b in bases for e in edges)
                     + " |")
        lines.append("| tasks GATE better | " + " | ".join(
            f"{int((e[1].loc[tasks, b] < 0).sum())}/{len(tasks)}" for b in bases for e in edges) + " |")
        for b in ("mtl", "stl"):
            if b in bases:
                a, c = (float(e[1].loc[tasks, b].mean()) for e in edges)
                size = "larger" if a < c else "smaller" if a > c else "the same"
                lines += ["", f"GATE vs {b}: {a:+.1f}% ({labels[0]}) against {c:+.1f}% ({labels[1]}) mean "
                          f"RMSE change; the edge is {size} in this folder's regime."]
        if bases:
            b = bases[0]
            path = Path(figure_dir) / f"regimes_{split}.png"
            grouped_bar_chart({lab: e[1].loc[tasks, b].to_dict() for lab, e in zip(labels, edges)},
                              f"GATE % RMSE change vs {b}", path, f"{split} split")
            lines += ["", f"![regimes]({path.name})"]
        lines.append("")
    return lines
