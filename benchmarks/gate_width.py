"""Issue 17: a narrower GATE meets the 4x-MTL epoch bar with every term exact. Does it cost accuracy?

At width 300 (latent and LF size, the default) the per-task MLPs, not the shared D-MPNN, are most of
GATE's work: counted matmul FLOPs per epoch at K = 10 are 12.0x MTL's with every term on, and
1.77x with every alignment term off (``gate_epoch_time.py --flops``). Every term runs the K
Encoder/Transfer/Inverse MLPs, on M perturbed copies for the distance term, so their cost scales
about with the square of the width: 2.5x MTL at width 100, 1.6x at 64.

This script runs ``gate`` and ``gate-noalign`` at ``--width W`` (``GateConfig(latent_size=W,
lf_size=W)``, nothing else changed) with the settings and split files of ``results/reference10_v2``
(reference10, scaffold, at most 1,500 training labels per task, 30 epochs, patience 6), into
``results/reference10_gate_w<W>``, and pairs its runs with that folder's width-300 GATE, GATE without
alignment, MTL and MTL-balanced on the same (task, seed): pairs better, mean RMSE change, Wilcoxon p.
Resumable (one result file per run); ``--report-only`` trains nothing.

    cd benchmarks && OMP_NUM_THREADS=2 ../.venv/bin/python gate_width.py --width 100 [--seeds 0 1 2 3 4]

Writes ``results/reference10_gate_w<W>/summary.md`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import fields

from common import RESULTS, machine

from molgate.benchmark.plan import BenchmarkConfig
from molgate.benchmark.report import paired_tests, results_frame
from molgate.benchmark.run import run_benchmark
from molgate.methods import GateConfig

REFERENCE = RESULTS / "reference10_v2"
BASELINES = ("gate", "gate-noalign", "mtl", "mtl-balanced", "stl")


def config_for(width: int, seeds: list[int]) -> BenchmarkConfig:
    """reference10_v2's settings, GATE at ``width``, only the two GATE methods on the scaffold split."""
    saved = json.loads((REFERENCE / "benchmark.json").read_text())
    names = {f.name for f in fields(BenchmarkConfig)} - {"gate", "methods", "splits", "seeds", "data"}
    gate = GateConfig(**dict(saved["gate"], latent_size=width, lf_size=width))
    return BenchmarkConfig(**{k: saved[k] for k in names}, gate=gate, methods=("gate", "gate-noalign"),
                           splits=("scaffold",), seeds=tuple(seeds))


def share_inputs(out) -> None:
    """The reference folder's split files and suite, so both folders train on the same molecules (a
    fresh clone lacks them; the benchmark then rebuilds the same ones from the same seeds)."""
    for part in ("splits", "suite"):
        if (REFERENCE / part).is_dir() and not (out / part).exists():
            shutil.copytree(REFERENCE / part, out / part)


def load_runs(out, width: int) -> list[dict]:
    runs = []
    for path in sorted((out / "runs" / "scaffold").glob("seed*/*/result.json")):
        r = json.loads(path.read_text())
        runs.append(dict(r, method=r["method"].replace("gate", f"gate-w{width}", 1)))
    for path in sorted((REFERENCE / "runs" / "scaffold").glob("seed*/*/result.json")):
        r = json.loads(path.read_text())
        if r["method"] in BASELINES:
            runs.append(r)
    return runs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=100)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--report-only", action="store_true")
    a = p.parse_args()
    out = RESULTS / f"reference10_gate_w{a.width}"
    config = config_for(a.width, a.seeds)
    if not a.report_only:
        out.mkdir(parents=True, exist_ok=True)
        share_inputs(out)
        run_benchmark(config, out)
    runs = load_runs(out, a.width)
    frame = results_frame(runs)
    gate, noalign = f"gate-w{a.width}", f"gate-w{a.width}-noalign"
    per_seed = frame.groupby("seed")["method"].nunique()
    seeds = sorted(per_seed.index[per_seed == frame["method"].nunique()])
    frame = frame[frame["seed"].isin(seeds)]
    if frame.empty:
        raise SystemExit("no seed where every method finished")
    lines = [f"# GATE at width {a.width} (latent and LF size) against width 300 (scaffold, seeds {seeds})", "",
             f"Runs of `results/reference10_gate_w{a.width}` paired with `results/reference10_v2` (same settings "
             f"and split files). Command: `cd benchmarks && ../.venv/bin/python gate_width.py --width {a.width}`.", ""]
    summary = {"machine": machine(), "width": a.width, "seeds": seeds, "paired": {}}
    for method in (gate, noalign):
        tests = paired_tests(frame, method)
        summary["paired"][method] = tests
        lines += [f"## {method}", "", "| baseline | pairs | better | mean RMSE change | Wilcoxon p |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t['baseline']} | {t['pairs']} | {t['gate_better']} | {t['mean_relative_rmse_change_%']:+.1f}% "
                  f"| {t['p_value']:.3g} |" for t in tests]
        lines.append("")
    mean = frame.groupby(["task", "method"], sort=False)["rmse"].mean().unstack("method")
    methods = [gate, "gate", noalign, "gate-noalign", "mtl", "mtl-balanced", "stl"]
    lines += ["Mean test RMSE per task:", "", "| task | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    lines += [f"| {t} | " + " | ".join(f"{mean.loc[t, m]:.4g}" for m in methods) + " |" for t in mean.index]
    seconds = {m: sum(r["seconds"] for r in runs if r["method"] == m and r["seed"] in seeds) / len(seeds)
               for m in methods}
    summary["mean_seconds_per_run"] = seconds
    lines += ["", "Mean seconds per run (wall clock; the two folders ran at different times and loads): "
              + ", ".join(f"{m} {s:.0f}" for m, s in seconds.items()) + "."]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(text)


if __name__ == "__main__":
    main()
