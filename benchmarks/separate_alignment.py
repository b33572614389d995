"""Issue 15 at benchmark scale: separate encoders with the strong alignment, against every method.

``results/reference10_separate`` runs the separate-encoder methods (``molgate benchmark --methods
mtl-balanced gate-separate-noalign gate-separate-nodis``) with the settings and split files of
``results/reference10_v2`` (reference10, scaffold, at most 1,500 training labels per task, 30
epochs, patience 6), so its runs pair with the ones there (MTL, STL, trunk GATE with and without
alignment, Chemprop MTL) on the same (task, seed). This script pools both folders' finished runs on
the seeds where every method finished and writes the issue's bars for the separate GATE: pairs
better than the better MTL variant and than its exact ablation (Wilcoxon), first in Pearson, tasks
with negative transfer against STL, and the mean per-task RMSE change against Chemprop MTL.

    cd benchmarks && ../.venv/bin/python separate_alignment.py [--gate gate-separate-nodis]

Writes ``results/reference10_separate/summary.md`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json

from common import RESULTS, machine

from molgate.benchmark.report import ablation_lines, goal_check, paired_tests, ranks, results_frame

FOLDERS = (RESULTS / "reference10_separate", RESULTS / "reference10_v2")
BASELINES = ("mtl", "mtl-balanced", "stl", "gate", "gate-noalign", "chemprop-mtl", "gate-separate-noalign")


def load_runs(split: str) -> list[dict]:
    runs = {}
    for folder in FOLDERS:  # the first folder's run wins when both hold one
        for path in sorted((folder / "runs" / split).glob("seed*/*/result.json")):
            r = json.loads(path.read_text())
            runs.setdefault((r["seed"], r["method"]), r)
    return list(runs.values())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gate", default="gate-separate-nodis")
    p.add_argument("--split", default="scaffold")
    a = p.parse_args()
    frame = results_frame(load_runs(a.split))
    methods = [a.gate, *[m for m in BASELINES if m in set(frame["method"])]]
    frame = frame[frame["method"].isin(methods)]
    per_seed = frame.groupby("seed")["method"].nunique()
    seeds = sorted(per_seed.index[per_seed == len(methods)])
    frame = frame[frame["seed"].isin(seeds)]
    if frame.empty:
        raise SystemExit(f"no seed where {', '.join(methods)} all finished")
    mean = frame.groupby(["task", "method"], sort=False)
    p_mean = mean["pearson"].mean().unstack("method")
    r_mean = mean["rmse"].mean().unstack("method")
    goals = goal_check(p_mean, r_mean, gate=a.gate)
    tests = paired_tests(frame, a.gate)
    lines = [f"# {a.gate} at benchmark scale ({a.split}, seeds {seeds})", "",
             "Runs of `results/reference10_separate` and `results/reference10_v2` (same settings and split "
             "files), on the seeds where every method below finished. Command: `cd benchmarks && "
             f"../.venv/bin/python separate_alignment.py --gate {a.gate}`.", "",
             "| baseline | pairs | better | mean RMSE change | Wilcoxon p |", "|---|---|---|---|---|"]
    lines += [f"| {t['baseline']} | {t['pairs']} | {t['gate_better']} | {t['mean_relative_rmse_change_%']:+.1f}% | "
              f"{t['p_value']:.3g} |" for t in tests]
    lines += ["", *ablation_lines(frame, a.gate), "",
              f"First in Pearson on {goals['gate_first_in_pearson']}/{goals['tasks']} tasks (average rank "
              f"{goals['gate_average_rank']:.2f} among {len(methods)} methods); negative transfer against STL on "
              f"{len(goals.get('gate_negative_transfer_tasks', []))} task(s) {goals.get('gate_negative_transfer_tasks', [])}; "
              f"mean per-task RMSE {goals.get('gate_rmse_vs_chemprop_mtl_percent', float('nan')):+.1f}% vs Chemprop MTL.",
              "", "Mean test RMSE per task:", "", "| task | " + " | ".join(methods) + " |",
              "|---|" + "---|" * len(methods)]
    rank = ranks(p_mean)
    for task in r_mean.index:
        cells = [f"{r_mean.loc[task, m]:.4g}" + (" (1st r)" if rank.loc[task, m] == 1 else "") for m in methods]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    out = FOLDERS[0]
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"machine": machine(), "gate": a.gate, "split": a.split,
                                                  "seeds": seeds, "methods": methods, "goals": goals,
                                                  "paired": tests}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
