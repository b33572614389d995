"""Issue 18: uniform vs learned transfer ratios on the whole suite (~40 tasks), 3 seeds.

Per seed: one capped, balanced scaffold split; many-task GATE at the package defaults trained with
uniform and with learned ratios (softmax over sources times a per-target scale, Adam-preconditioned
hypergradient, several validation batches per outer step). The learned run cuts validation in two
(:func:`molgate.methods.transfer_ratios.split_validation`): one part drives lambda, the other
early-stops and selects. The uniform run early-stops and selects on **that same selection part**
(the lambda part is left unused), so both runs share the objective, the selection rule, the
validation curve's molecules and the seed: the only difference is the ratios.

Reports the paper's two claims: per-task mean test RMSE over seeds (learned better on how many
tasks; goal >= 30/40), and the paper's Figure 3 (validation loss against epoch, mean +- std over
seeds) with the epoch at which learned reaches uniform's best (goal <= 70% of uniform's epochs).
Seconds per epoch of both are reported too.

    cd benchmarks && OMP_NUM_THREADS=1 ../.venv/bin/python transfer_ratios_all_tasks.py \
        [--seeds 0 1 2] [--max-per-task 150] [--epochs 15] [--tasks all]

Resumable: each finished (seed, mode) run is a JSON file under
``results/transfer_ratios_all_tasks/`` (other settings: their own name; commit each as it lands); models go to ``work/`` (ignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common import RESULTS, WORK, suite_dir, write_result  # noqa: E402
from molgate import api  # noqa: E402
from molgate.data.splits import cap_train_per_task, make_split, save_split  # noqa: E402
from molgate.data.table import read_table  # noqa: E402
from molgate.methods.transfer_ratios import RatioSettings, split_validation  # noqa: E402



def result_name(a) -> str:
    """The default protocol writes ``transfer_ratios_all_tasks*``; other settings get their own name."""
    default = (a.tasks, a.max_per_task, a.epochs) == ("all", 150, 15)
    return "transfer_ratios_all_tasks" if default else f"transfer_ratios_{a.tasks}_cap{a.max_per_task}_ep{a.epochs}"


def run_one(data, table, seed: int, mode: str, a, settings: RatioSettings) -> dict:
    """Train one (seed, mode) run unless its result file exists; return the result."""
    runs_dir = RESULTS / result_name(a)
    result_file = runs_dir / f"seed{seed}_{mode}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    work = WORK / f"ratios_all_{a.tasks}_cap{a.max_per_task}" / f"seed{seed}"
    split = cap_train_per_task(table, make_split(table, "scaffold", seed), a.max_per_task, seed)
    if mode == "uniform":  # select on the learned run's selection part, as the learned run does
        _, selection = split_validation(split.val, settings.val_fraction, seed)
        split = replace(split, val=selection)
    split_file = save_split(split, table, work / f"split_{mode}.json")
    out = work / mode
    if out.exists():  # an unfinished run: start it again
        shutil.rmtree(out)
    api.train(data, method="gate", split_file=split_file, epochs=a.epochs, patience=a.epochs, out=out,
              seed=seed, progress=False, transfer_ratios=mode, ratio_settings=settings)
    config = json.loads((out / "config.json").read_text())
    fit = config["fit"]["all"]
    result = {"seed": seed, "mode": mode, "val_history": fit["val_history"], "epochs": fit["epochs_run"],
              "seconds": config["throughput"]["seconds"],
              "test_rmse": {t: m["rmse"] for t, m in api.evaluate(out, plots=False).items() if m},
              "ratio_settings": settings.to_dict() if mode == "learned" else None,
              "max_per_task": a.max_per_task, "tasks": a.tasks}
    ratios = out / "transfer_ratios.json"
    if ratios.exists():
        result["ratios"] = json.loads(ratios.read_text())
        heatmap = out / "transfer_ratios.png"
        if heatmap.exists() and seed == a.seeds[0]:
            shutil.copyfile(heatmap, RESULTS / f"{result_name(a)}_heatmap.png")
    runs_dir.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(result, indent=1))
    return result


def first_epoch_at_or_below(curve: np.ndarray, level: float) -> int | None:
    hit = np.flatnonzero(curve <= level)
    return int(hit[0]) + 1 if len(hit) else None


def summarize(runs: dict, tasks: list[str], a) -> dict:
    seeds = sorted({s for s, _ in runs})
    curves = {m: np.array([runs[s, m]["val_history"] for s in seeds]) for m in ("uniform", "learned")}
    mean = {m: c.mean(0) for m, c in curves.items()}
    uniform_best_epoch = int(np.argmin(mean["uniform"])) + 1
    reach = first_epoch_at_or_below(mean["learned"], float(mean["uniform"].min()))
    per_seed_reach = [first_epoch_at_or_below(np.array(runs[s, "learned"]["val_history"]),
                                              min(runs[s, "uniform"]["val_history"])) for s in seeds]
    rmse = {m: {t: float(np.mean([runs[s, m]["test_rmse"][t] for s in seeds])) for t in tasks}
            for m in ("uniform", "learned")}
    improved = [t for t in tasks if rmse["learned"][t] < rmse["uniform"][t]]
    per_epoch = {m: float(np.mean([runs[s, m]["seconds"] / runs[s, m]["epochs"] for s in seeds]))
                 for m in ("uniform", "learned")}
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=110)
    for m, c in curves.items():
        x = np.arange(1, c.shape[1] + 1)
        ax.plot(x, c.mean(0), label=f"{m} ratios")
        ax.fill_between(x, c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.25)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (selection part)")
    ax.set_title(f"{len(tasks)} tasks, scaffold, mean ± std over {len(seeds)} seeds", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"{result_name(a)}.png")
    plt.close(fig)
    return {"seeds": seeds, "tasks": len(tasks), "improved_tasks": improved,
            "uniform_best_epoch": uniform_best_epoch, "learned_reaches_uniform_best_at": reach,
            "per_seed_reach": per_seed_reach, "mean_test_rmse": rmse, "seconds_per_epoch": per_epoch,
            "mean_val_curves": {m: v.tolist() for m, v in mean.items()},
            "max_per_task": a.max_per_task, "epochs": a.epochs}


def report(summary: dict) -> str:
    s, pe = summary, summary["seconds_per_epoch"]
    reach, best = s["learned_reaches_uniform_best_at"], s["uniform_best_epoch"]
    share = f"{reach / best:.0%} of uniform's" if reach else "never within the run"
    lines = [f"Whole suite ({s['tasks']} tasks), scaffold, seeds {s['seeds']}, cap {s['max_per_task']} "
             f"training labels per task, {s['epochs']} epochs without early stopping; GATE at the package "
             "defaults; both runs select on the same half of validation (the other half drives lambda).", "",
             f"- learned beats uniform in mean test RMSE on **{len(s['improved_tasks'])}/{s['tasks']}** "
             "tasks (goal >= 30/40)",
             f"- mean validation curve: uniform's best at epoch {best}; learned reaches it at epoch "
             f"{reach} ({share}; goal <= 70%); per seed: {s['per_seed_reach']}",
             f"- seconds per epoch: uniform {pe['uniform']:.1f}, learned {pe['learned']:.1f} "
             f"({pe['learned'] / pe['uniform']:.2f}x)", "",
             "| task | uniform RMSE | learned RMSE | change |", "|---|---|---|---|"]
    for t, u in s["mean_test_rmse"]["uniform"].items():
        ll = s["mean_test_rmse"]["learned"][t]
        lines.append(f"| {t} | {u:.4g} | {ll:.4g} | {100 * (ll / u - 1):+.1f}% |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", default="all", help="a suite preset (all, reference10)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-per-task", type=int, default=150)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--parameterization", default="softmax")
    a = p.parse_args()
    data = suite_dir(a.tasks) / "suite.parquet"
    table, _ = read_table(data)
    settings = RatioSettings(parameterization=a.parameterization)
    runs = {}
    for seed in a.seeds:
        for mode in ("uniform", "learned"):
            runs[seed, mode] = run_one(data, table, seed, mode, a, settings)
            r = runs[seed, mode]
            print(f"seed {seed} {mode}: {r['seconds']:.0f} s, best validation {min(r['val_history']):.4f}",
                  flush=True)
    summary = summarize(runs, list(table.tasks), a)
    text = report(summary)
    (RESULTS / f"{result_name(a)}.md").write_text(text)
    print(text)
    write_result(result_name(a), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
