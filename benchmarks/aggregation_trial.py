"""How the D-MPNN pools its atom vectors, STL per task on the full-data split files.

molgate's D-MPNN averages its atom vectors (``mean``); Chemprop v2's own default is ``norm``
(the sum divided by 100), which keeps the molecule's size. Size is what additive properties
(parachor, molar refraction, enthalpies) scale with; ``mean+norm`` (ours) gives the head both.
One STL network per (split, task, aggregation), the benchmark's settings (50 epochs, patience 10,
hidden 300, batch 64); each result is its own JSON file, so a stopped run continues where it
stopped. The summary over seeds goes to ``OUT_summary.json``.

    cd benchmarks && OMP_NUM_THREADS=1 ../.venv/bin/python aggregation_trial.py \
        --tasks parachor hvap_298 --splits scaffold_seed0 random_seed0 --aggregations mean norm mean+norm
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from molgate.api import train
from molgate.data.splits import load_split
from molgate.data.table import read_table
from molgate.estimator import PropertyRegressor
from molgate.nn.pooling import AGGREGATIONS

BENCH = Path("results/reference10_full")


def one_run(table, split, split_name: str, task: str, aggregation: str, work: Path) -> dict:
    split_file = BENCH / "splits" / f"{split_name}.json"
    k = table.tasks.index(task)
    test = np.array([i for i in split.test if not np.isnan(table.y[i, k])])
    start = time.perf_counter()
    result = train(BENCH / "suite" / "suite.parquet", targets=[task], method="stl", split_file=split_file,
                   seed=int(split_name.rsplit("seed", 1)[1]), out=work / f"{split_name}_{task}_{aggregation}",
                   epochs=50, patience=10, hidden_size=300, ffn_hidden_size=300, batch_size=64,
                   progress=False, aggregation=aggregation)
    pred = PropertyRegressor.load(result.model_dir).predict([table.smiles[i] for i in test])[:, 0]
    err = pred - table.y[test, k]
    return {"split": split_name, "task": task, "aggregation": aggregation, "test": int(len(test)),
            "rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "seconds": time.perf_counter() - start}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", required=True)
    ap.add_argument("--splits", nargs="+", default=["scaffold_seed0"], help="names of the benchmark's split files")
    ap.add_argument("--aggregations", nargs="+", choices=list(AGGREGATIONS), default=["mean", "norm"],
                    help="the first is the baseline the others are compared with")
    ap.add_argument("--out", default="results/aggregation_trial")
    ap.add_argument("--work", default="work/aggregation_trial", help="model folders (not committed)")
    a = ap.parse_args()
    table, _ = read_table(BENCH / "suite" / "suite.parquet")
    unknown = [t for t in a.tasks if t not in table.tasks]
    if unknown:
        ap.error(f"unknown task(s) {unknown}; the suite has {table.tasks}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for split_name in a.splits:
        split = load_split(BENCH / "splits" / f"{split_name}.json", table)
        for task in a.tasks:
            for agg in a.aggregations:
                path = out / f"{split_name}_{task}_{agg}.json"
                if not path.exists():
                    path.write_text(json.dumps(one_run(table, split, split_name, task, agg, Path(a.work)), indent=1))
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    by = {(r["split"], r["task"], r["aggregation"]): r["rmse"] for r in rows}
    print(f"{'split':16s} {'task':24s} " + " ".join(f"{g:>9s}" for g in a.aggregations) + "  change (last vs first)")
    for split_name in a.splits:
        for task in a.tasks:
            vals = [by.get((split_name, task, g)) for g in a.aggregations]
            change = f"{100 * (vals[-1] / vals[0] - 1):+.1f}%" if None not in vals else ""
            print(f"{split_name:16s} {task:24s} " + " ".join(f"{v:9.4g}" for v in vals) + f"  {change}")
    base = a.aggregations[0]
    summary = [s for other in a.aggregations[1:] for s in seed_summary(rows, base, other)]
    print(f"\nOver seeds: each against {base}, every finished pair in {out}")
    print(f"{'split':9s} {'task':24s} {'pooling':>9s} {'seeds':>5s} {'better':>6s} {'mean change':>11s} {'median':>7s}")
    for s in summary:
        print(f"{s['split']:9s} {s['task']:24s} {s['other']:>9s} {s['seeds']:5d} {s['better']:6d} "
              f"{s['mean_change_pct']:+10.1f}% {s['median_change_pct']:+6.1f}%")
    (out.parent / f"{out.name}_summary.json").write_text(json.dumps(summary, indent=1))


def seed_summary(rows: list[dict], base: str, other: str) -> list[dict]:
    """Per (split kind, task): on how many seeds ``other`` beats ``base``, and the RMSE change."""
    by = {(r["split"], r["task"], r["aggregation"]): r["rmse"] for r in rows}
    changes: dict[tuple[str, str], list[float]] = {}
    for (split_name, task, agg), rmse in sorted(by.items()):
        if agg == base and (split_name, task, other) in by:
            kind = split_name.rsplit("_seed", 1)[0]
            changes.setdefault((kind, task), []).append(by[(split_name, task, other)] / rmse - 1)
    return [{"split": kind, "task": task, "base": base, "other": other, "seeds": len(c),
             "better": int(sum(x < 0 for x in c)), "mean_change_pct": 100 * float(np.mean(c)),
             "median_change_pct": 100 * float(np.median(c))} for (kind, task), c in changes.items()]


if __name__ == "__main__":
    main()
