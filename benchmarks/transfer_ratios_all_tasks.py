"""Issue 6, experiment 2: uniform vs learned transfer ratios on the whole suite (~40 tasks).

One capped, balanced scaffold split (seed 0); many-task GATE (trunk) trained with uniform and with
learned ratios; validation-loss curves (like the paper's Figure 3), epochs for the learned run to
reach the uniform run's best validation loss, per-task test RMSE of both and the count of tasks
improved. Writes JSON, Markdown and ``transfer_ratios_all_tasks.png``.

    python benchmarks/transfer_ratios_all_tasks.py [--max-per-task 150] [--epochs 15]

Resumable: a finished run is read back from its folder under ``benchmarks/work/ratios_all_tasks``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common import RESULTS, WORK, suite_dir, write_result  # noqa: E402
from molgate import api  # noqa: E402
from molgate.data.splits import cap_train_per_task, make_split, save_split  # noqa: E402
from molgate.data.table import read_table  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--max-per-task", type=int, default=150)
    p.add_argument("--epochs", type=int, default=15)
    a = p.parse_args()
    work = WORK / "ratios_all_tasks"
    data = suite_dir("all") / "suite.parquet"
    table, _ = read_table(data)
    split = cap_train_per_task(table, make_split(table, "scaffold", 0), a.max_per_task, 0)
    split_file = save_split(split, table, work / "split.json")
    runs = {}
    for mode in ("uniform", "learned"):
        out = work / mode
        if not (out / "config.json").exists():
            api.train(data, method="gate", split_file=split_file, epochs=a.epochs, patience=a.epochs,
                      out=out, seed=0, progress=False, transfer_ratios=mode)
        config = json.loads((out / "config.json").read_text())
        runs[mode] = {"val": config["fit"]["all"]["val_history"], "seconds": config["throughput"]["seconds"],
                      "epochs": config["fit"]["all"]["epochs_run"],
                      "test": {t: m["rmse"] for t, m in api.evaluate(out, plots=False).items()}}
        print(f"{mode}: {runs[mode]['seconds']:.0f} s, best validation {min(runs[mode]['val']):.4f}", flush=True)
    best_uniform = min(runs["uniform"]["val"])
    reach = next((i + 1 for i, v in enumerate(runs["learned"]["val"]) if v <= best_uniform), None)
    improved = [t for t in table.tasks if runs["learned"]["test"][t] < runs["uniform"]["test"][t]]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=110)
    for mode, run in runs.items():
        ax.plot(np.arange(1, len(run["val"]) + 1), run["val"], label=f"{mode} ratios")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (standardised MSE)")
    ax.set_title(f"{len(table.tasks)} tasks, scaffold split", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "transfer_ratios_all_tasks.png")
    heatmap = work / "learned" / "transfer_ratios.png"
    if heatmap.exists():
        shutil.copyfile(heatmap, RESULTS / "transfer_ratios_all_tasks_heatmap.png")
    per_epoch = {m: r["seconds"] / r["epochs"] for m, r in runs.items()}
    lines = [f"cap {a.max_per_task} training labels per task (scaffold split, seed 0; validation and test whole), "
             f"{a.epochs} epochs, no early stopping. Seconds per epoch: uniform {per_epoch['uniform']:.1f}, "
             f"learned {per_epoch['learned']:.1f} ({per_epoch['learned'] / per_epoch['uniform']:.2f}x).", "",
             f"tasks: {len(table.tasks)}; learned improves test RMSE on {len(improved)} of them; "
             f"learned reaches the uniform run's best validation loss ({best_uniform:.4f}) at epoch "
             f"{reach} (uniform's best at epoch {int(np.argmin(runs['uniform']['val'])) + 1})", "",
             "| task | uniform RMSE | learned RMSE |", "|---|---|---|"]
    lines += [f"| {t} | {runs['uniform']['test'][t]:.4g} | {runs['learned']['test'][t]:.4g} |" for t in table.tasks]
    (RESULTS / "transfer_ratios_all_tasks.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    write_result("transfer_ratios_all_tasks", {"runs": runs, "epochs_to_reach_uniform_best": reach,
                                               "improved_tasks": improved, "max_per_task": a.max_per_task,
                                               "epochs": a.epochs, "seconds_per_epoch": per_epoch})
    return 0


if __name__ == "__main__":
    sys.exit(main())
