"""First accuracy: STL, MTL and GATE on the 10 reference tasks, one balanced scaffold split.

Runs the README main job's pipeline (``molgate.jobs.main_job.run``) with larger caps and writes a
Markdown table of test RMSE and Pearson r per task and method.

    python benchmarks/reference10_accuracy.py [--max-per-task 3000] [--max-epochs 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys

from common import RESULTS, WORK, write_result
from molgate.jobs.main_job import run


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--max-per-task", type=int, default=3000)
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=["stl", "mtl", "gate"])
    a = p.parse_args()
    out = WORK / f"reference10_seed{a.seed}"
    run(out, a.max_epochs, a.max_per_task, a.seed, a.methods)
    results = json.loads((out / "results.json").read_text())
    metrics = results["metrics"]
    tasks = list(next(iter(metrics.values())))
    lines = [f"Scaffold split seed {a.seed}; at most {a.max_per_task} training molecules per task "
             f"(validation and test whole); at most {a.max_epochs} epochs with early stopping.", "",
             "| task | n_test | " + " | ".join(f"{m} RMSE" for m in a.methods) + " | "
             + " | ".join(f"{m} r" for m in a.methods) + " |",
             "|---|---|" + "---|" * (2 * len(a.methods))]
    for t in tasks:
        rmse = {m: metrics[m][t]["rmse"] for m in a.methods}
        r = {m: metrics[m][t]["pearson"] for m in a.methods}
        best_rmse, best_r = min(rmse.values()), max(r.values())
        cell = lambda v, b: f"**{v:.4g}**" if v == b else f"{v:.4g}"  # noqa: E731
        lines.append(f"| {t} | {metrics[a.methods[0]][t]['n']} | "
                     + " | ".join(cell(rmse[m], best_rmse) for m in a.methods) + " | "
                     + " | ".join(cell(r[m], best_r) for m in a.methods) + " |")
    lines += ["", "Wall time (train + evaluate): "
              + ", ".join(f"{m} {results['seconds'][m]:.0f} s" for m in a.methods)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"reference10_accuracy_seed{a.seed}.md"
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    write_result(f"reference10_accuracy_seed{a.seed}", {**results, "methods": a.methods})
    return 0


if __name__ == "__main__":
    sys.exit(main())
