"""Two benchmark folders that differ only in the pooling: each method's test RMSE, task by task.

Reads the finished per-run result files of ``--base`` (e.g. ``reference10_full``, ``mean``) and
``--other`` (e.g. ``reference10_full_meannorm``, ``mean+norm``) on the (split, seed, method) runs
both hold, and prints, per method, the RMSE change of ``other`` against ``base`` on every task, the
tasks it improves and the mean change; then the same over all methods. Trains nothing.

    cd benchmarks && ../.venv/bin/python pooling_compare.py --base results/reference10_full \\
        --other results/reference10_full_meannorm --out results/pooling_compare.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def finished_runs(folder: Path) -> dict[tuple[str, int, str], dict]:
    """``(split, seed, method) -> metrics`` of every finished run in a benchmark folder."""
    runs = {}
    for path in sorted((folder / "runs").glob("*/seed*/*/result.json")):
        r = json.loads(path.read_text())
        runs[(r["split"], int(r["seed"]), r["method"])] = r["metrics"]
    return runs


def compare(base: dict, other: dict) -> list[dict]:
    """One row per (split, seed, method, task) both folders finished: the two RMSEs and the change."""
    rows = []
    for key in sorted(set(base) & set(other)):
        for task, metrics in base[key].items():
            if task in other[key]:
                a, b = metrics["rmse"], other[key][task]["rmse"]
                rows.append({"split": key[0], "seed": key[1], "method": key[2], "task": task,
                             "rmse_base": a, "rmse_other": b, "change_pct": 100 * (b / a - 1)})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per method and over all: pairs improved and the mean change."""
    out = []
    for method in [*dict.fromkeys(r["method"] for r in rows), "all"]:
        sel = [r for r in rows if method in ("all", r["method"])]
        changes = np.array([r["change_pct"] for r in sel])
        out.append({"method": method, "pairs": len(sel), "better": int((changes < 0).sum()),
                    "mean_change_pct": float(changes.mean()), "median_change_pct": float(np.median(changes))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="benchmark folder (the reference pooling)")
    ap.add_argument("--other", required=True, help="benchmark folder (the pooling to compare)")
    ap.add_argument("--out", default=None, help="JSON with every row and the summary")
    a = ap.parse_args()
    base, other = Path(a.base), Path(a.other)
    pooling = {str(f): json.loads((f / "benchmark.json").read_text()).get("aggregation", "mean") for f in (base, other)}
    rows = compare(finished_runs(base), finished_runs(other))
    if not rows:
        ap.error("the two folders have no finished (split, seed, method) run in common")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    print(f"test RMSE change, {pooling[str(other)]} ({other}) against {pooling[str(base)]} ({base})")
    print(f"{'split':9s} {'seed':>4s} {'task':24s}" + "".join(f"{m:>14s}" for m in methods))
    by = {(r["split"], r["seed"], r["task"], r["method"]): r["change_pct"] for r in rows}
    for split, seed, task in dict.fromkeys((r["split"], r["seed"], r["task"]) for r in rows):
        cells = [by.get((split, seed, task, m)) for m in methods]
        print(f"{split:9s} {seed:4d} {task:24s}" + "".join(" " * 14 if c is None else f"{c:+13.1f}%" for c in cells))
    summary = summarise(rows)
    print(f"\n{'method':14s} {'pairs':>5s} {'better':>6s} {'mean change':>11s} {'median':>7s}")
    for s in summary:
        print(f"{s['method']:14s} {s['pairs']:5d} {s['better']:6d} {s['mean_change_pct']:+10.1f}% "
              f"{s['median_change_pct']:+6.1f}%")
    if a.out:
        Path(a.out).write_text(json.dumps({"base": str(base), "other": str(other), "pooling": pooling,
                                           "summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
