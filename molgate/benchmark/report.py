"""Benchmark report in the papers' format: Markdown, JSON and PNG figures, one section per split.

(a) Pearson r mean +- std per task and method, best in bold, "No. 1st" and "Avg. rank" rows;
(b) RMSE mean +- std in original units; (c) % RMSE improvement over STL (negative = negative
transfer) and the count of negative-transfer tasks; (d) Wilcoxon signed-rank tests of GATE against
each baseline over (task, seed) pairs of the relative RMSE difference (relative, so tasks in
different units can be pooled); (e) parity plots and a bar chart of (c); (f) per-task test counts,
MAE, and the five worst-predicted test molecules of each method.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr, wilcoxon  # noqa: E402

from molgate.benchmark.plan import Job  # noqa: E402
from molgate.evaluate.plots import grouped_bar_chart, save_figure  # noqa: E402

GATE_FIRST = ("gate", "gate-separate", "gate-separate-strong", "gate-separate-nodis", "gate-separate-molpert")


def ablation_of(gate: str) -> str:
    """The method that removes exactly the alignment from ``gate``: the same encoders, heads and
    reduction with every alignment term off."""
    return "gate-separate-noalign" if gate.startswith("gate-separate") else "gate-noalign"


def results_frame(results: list[dict]) -> pd.DataFrame:
    """One row per (split, seed, method, task) with n, rmse, mae, r2, pearson."""
    rows = [{"split": r["split"], "seed": r["seed"], "method": r["method"], "task": t, **m}
            for r in results for t, m in r["metrics"].items()]
    return pd.DataFrame(rows)


def _mean_std(frame: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = frame.groupby(["task", "method"], sort=False)[metric]
    return g.mean().unstack("method"), g.std(ddof=0).unstack("method")


def ranks(mean: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    return mean.rank(axis=1, ascending=not higher_is_better, method="average")


def _fmt_table(mean: pd.DataFrame, std: pd.DataFrame, best_high: bool | None, digits: int = 4) -> list[str]:
    cols = list(mean.columns)
    lines = ["| task | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for task in mean.index:
        row = mean.loc[task]
        best = (row.max() if best_high else row.min()) if best_high is not None else None
        cells = []
        for m in cols:
            text = f"{row[m]:.{digits}g} ± {std.loc[task, m]:.2g}"
            cells.append(f"**{text}**" if best is not None and row[m] == best else text)
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def improvement_over_stl(rmse_mean: pd.DataFrame) -> pd.DataFrame:
    """``100 * (RMSE_STL - RMSE_m) / RMSE_STL`` per task; negative = negative transfer."""
    stl = rmse_mean["stl"]
    others = [m for m in rmse_mean.columns if m != "stl"]
    return rmse_mean[others].rsub(stl, axis=0).div(stl, axis=0) * 100.0


def goal_check(p_mean: pd.DataFrame, r_mean: pd.DataFrame, gate: str = "gate",
               chemprop_mtl: str = "chemprop-mtl") -> dict:
    """The issue's targets, measured: GATE's No. 1st and average rank in Pearson, tasks with
    negative transfer (RMSE above STL), and GATE's mean per-task RMSE change vs Chemprop MTL."""
    out: dict = {}
    if gate not in p_mean.columns:
        return out
    rk = ranks(p_mean)
    out["gate_first_in_pearson"] = int((rk[gate] == 1).sum())
    out["tasks"] = int(len(rk))
    out["gate_average_rank"] = float(rk[gate].mean())
    if "stl" in r_mean.columns:
        imp = improvement_over_stl(r_mean)
        out["gate_negative_transfer_tasks"] = sorted(imp.index[imp[gate] < 0].tolist())
    if chemprop_mtl in r_mean.columns:
        change = (r_mean[gate] / r_mean[chemprop_mtl] - 1.0) * 100.0
        out["gate_rmse_vs_chemprop_mtl_percent"] = float(change.mean())
    return out


def sweep_lines(out: Path) -> list[str]:
    """The GATE sweep's variants that were run, with their validation losses."""
    files = sorted(Path(out).glob("sweep/variant*.json"), key=lambda p: int(p.stem[7:]))
    if not files:
        return []
    rows = [json.loads(f.read_text()) for f in files]
    best = min(rows, key=lambda r: r["val_loss"])
    lines = ["## GATE sweep (validation loss of seed 0, first split; the test split is never read)", "",
             "| variant | validation loss | minutes |", "|---|---|---|"]
    lines += [f"| {r['change'] or 'defaults'} | {r['val_loss']:.4f}{' (best)' if r is best else ''} | "
              f"{r['seconds'] / 60:.1f} |" for r in rows]
    return lines + [""]


def paired_tests(frame: pd.DataFrame, gate: str) -> list[dict]:
    """Wilcoxon signed-rank of ``RMSE_gate / RMSE_base - 1`` over (task, seed) pairs, per baseline."""
    pivot = frame.pivot_table(index=["task", "seed"], columns="method", values="rmse")
    out = []
    for base in pivot.columns:
        if base == gate:
            continue
        pair = pivot[[gate, base]].dropna()
        rel = (pair[gate] / pair[base] - 1.0).to_numpy()
        p = float("nan")
        if len(rel) >= 2 and np.any(rel != 0):
            p = float(wilcoxon(rel, alternative="two-sided").pvalue)
        out.append({"baseline": base, "pairs": int(len(rel)), "gate_better": int((rel < 0).sum()),
                    "median_relative_rmse_change_%": float(np.median(rel) * 100) if len(rel) else float("nan"),
                    "mean_relative_rmse_change_%": float(np.mean(rel) * 100) if len(rel) else float("nan"),
                    "p_value": p})
    return out


def ablation_lines(frame: pd.DataFrame, gate: str) -> list[str]:
    """GATE against the better MTL variant (lower mean RMSE ratio to ``mtl`` over all pairs) and
    against GATE without alignment: the comparisons that isolate reweighting and alignment."""
    tests = {row["baseline"]: row for row in paired_tests(frame, gate)}
    lines = []
    mtls = [m for m in ("mtl", "mtl-balanced") if m in tests]
    if mtls:
        pivot = frame.pivot_table(index=["task", "seed"], columns="method", values="rmse")
        ratio = {m: float((pivot[m] / pivot[mtls[0]]).mean()) for m in mtls}
        best = min(mtls, key=ratio.get)
        row = tests[best]
        lines.append(f"{gate} vs the better MTL variant ({best}): better on {row['gate_better']}/{row['pairs']} "
                     f"(task, seed) pairs, Wilcoxon p = {row['p_value']:.3g} (goal >= 35/50, p < 0.01).")
    noalign = ablation_of(gate)
    if noalign in tests:
        row = tests[noalign]
        verdict = ""
        if row["p_value"] < 0.05 and 2 * row["gate_better"] < row["pairs"]:
            verdict = " The alignment makes GATE measurably worse at these settings."
        elif not (row["gate_better"] * 50 >= 32 * row["pairs"] and row["p_value"] < 0.05):
            verdict = " The alignment adds nothing measurable at these settings."
        lines.append(f"{gate} vs GATE without alignment ({noalign}): better on {row['gate_better']}/"
                     f"{row['pairs']} pairs, p = {row['p_value']:.3g} (goal >= 32/50, p < 0.05).{verdict}")
    return lines


def alignment_effect_lines(frame: pd.DataFrame, gate: str) -> list[str]:
    """Per task: what the alignment does (``gate`` / its ablation - 1, :func:`ablation_of`) beside what
    GATE's per-task encoders do without it (ablation / ``mtl-balanced`` - 1), with their Spearman correlation
    over tasks: a positive one says the alignment undoes the per-task encoders' gain, task by task."""
    noalign = ablation_of(gate)
    if not {gate, noalign, "mtl-balanced"} <= set(frame["method"]):
        return []
    mean = frame.groupby(["task", "method"], sort=False)["rmse"].mean().unstack("method")
    align = 100.0 * (mean[gate] / mean[noalign] - 1.0)
    split_gain = 100.0 * (mean[noalign] / mean["mtl-balanced"] - 1.0)
    lines = ["", "Per task, mean test RMSE change (%): the alignment (GATE vs GATE without it) and the "
             "per-task encoders without alignment (vs MTL with the per-task reduction).", "",
             f"| task | alignment ({gate} / {noalign}) | per-task encoders ({noalign} / mtl-balanced) |",
             "|---|---|---|"]
    lines += [f"| {t} | {align[t]:+.1f} | {split_gain[t]:+.1f} |" for t in mean.index]
    if len(mean) >= 3:
        rho = spearmanr(align, split_gain).statistic
        lines += ["", f"Spearman correlation over tasks: {rho:+.2f} (negative: the alignment costs most "
                  "where the per-task encoders gain most)."]
    return lines


def parity_grid(preds: pd.DataFrame, method: str, path: Path, units: dict[str, str]) -> Path:
    tasks = list(dict.fromkeys(preds["task"]))
    cols = min(len(tasks), 5)
    rows = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols, 2.7 * rows), dpi=100, squeeze=False)
    for i, t in enumerate(tasks):
        ax = axes[i // cols][i % cols]
        g = preds[preds["task"] == t]
        ax.scatter(g["y_true"], g["y_pred"], s=4, alpha=0.5, edgecolors="none")
        lo, hi = np.nanmin(g[["y_true", "y_pred"]].to_numpy()), np.nanmax(g[["y_true", "y_pred"]].to_numpy())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.7)
        ax.set_title(f"{t} [{units.get(t, '')}]", fontsize=7)
        ax.tick_params(labelsize=6)
    for j in range(len(tasks), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(f"{method}: test predictions, all seeds (x measured, y predicted)", fontsize=9)
    return save_figure(fig, path)


def worst_molecules(preds: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    preds = preds.assign(abs_error=(preds["y_pred"] - preds["y_true"]).abs())
    worst = preds.sort_values("abs_error", ascending=False).groupby(["task", "method"], sort=False).head(n)
    return worst.sort_values(["task", "method", "abs_error"], ascending=[True, True, False], kind="stable")


def missing_lines(left_out: list[tuple[Job, bool]]) -> list[str]:
    """The planned runs a report leaves out, grouped by (split, seed); ``True`` marks a run that
    finished but is left out because its seed is not complete."""
    if not left_out:
        return []
    groups: dict[tuple, list[str]] = {}
    for job, finished in left_out:
        groups.setdefault((job.split, job.seed), []).append(job.method + (" (finished)" if finished else ""))
    lines = [f"## Runs not in this report ({len(left_out)})", "",
             "Planned but not finished, or finished on a seed where another method has not (marked "
             "finished): the tables above leave them out so that every method is compared on the same seeds.", ""]
    lines += [f"- {split} seed {seed}: {', '.join(methods)}" for (split, seed), methods in groups.items()]
    return lines + [""]


def partial_lines(results: list[dict], partial: list[dict]) -> list[str]:
    """``partial``: finished runs of methods still short of seeds, each set against GATE on the
    (split, seed) groups it finished. A long benchmark can then be read early without shrinking
    the main tables to the seeds its slowest method has."""
    frame = results_frame(list(results) + list(partial))
    rows = []
    for split, part in frame.groupby("split", sort=False) if len(frame) else ():
        gate = next((g for g in GATE_FIRST if g in set(part["method"])), None)
        for method in dict.fromkeys(r["method"] for r in partial if r["split"] == split):
            seeds = sorted({int(r["seed"]) for r in partial if r["split"] == split and r["method"] == method})
            sub = part[part["seed"].isin(seeds) & part["method"].isin([gate, method])]
            test = next((t for t in paired_tests(sub, gate) if t["baseline"] == method), None) if gate else None
            if test is None or test["pairs"] == 0:
                rows.append(f"| {split} | {method} | {seeds} | 0 | - | - | - | - |")
                continue
            mean = sub.groupby(["task", "method"], sort=False)["rmse"].mean().unstack("method")
            change = float((mean[gate] / mean[method] - 1.0).mean() * 100.0)
            rows.append(f"| {split} | {method} | {seeds} | {test['pairs']} | {test['gate_better']} | "
                        f"{change:+.1f}% | {test['median_relative_rmse_change_%']:+.1f}% | {test['p_value']:.3g} |")
    if not rows:
        return []
    return ["## Methods on fewer seeds", "",
            "Not in the tables above: GATE against each on the seeds it finished (negative = GATE better).", "",
            "| split | method | seeds | pairs | GATE better | mean per-task RMSE change | "
            "median RMSE change | p-value |", "|---|---|---|---|---|---|---|---|", *rows, ""]


def write_report(out: str | Path, results: list[dict], settings: dict, units: dict[str, str] | None = None,
                 title: str = "molgate benchmark", left_out: list[tuple[Job, bool]] = ()) -> Path:
    """Write ``OUT/report.md``, ``OUT/results.json`` and the figures; returns the report path.
    ``left_out``: the planned runs not in ``results`` (:func:`missing_lines`)."""
    out = Path(out)
    units = units or {}
    frame = results_frame(results)
    (out / "results.json").write_text(json.dumps({
        "settings": settings,
        "results": [{k: r[k] for k in ("split", "seed", "method", "seconds", "metrics", "train_labels")}
                    for r in results]}, indent=1))
    lines = [f"# {title}", "", "Settings: " + ", ".join(
        f"{k}={settings[k]}" for k in ("max_per_task", "epochs", "patience", "hidden_size", "batch_size",
                                         "aggregation")
        if k in settings), "",
        f"Training labels per task are capped at {settings.get('max_per_task')} (sampled per seed "
        "from the training part only); validation and test sets are whole. GATE settings: "
        f"`{json.dumps(settings.get('gate', {}))}`.", ""]
    for split, part in frame.groupby("split", sort=False):
        seeds = sorted(int(s) for s in part["seed"].unique())
        methods = list(dict.fromkeys(part["method"]))
        lines += [f"## {split} split ({len(seeds)} seed(s): {seeds})", ""]
        p_mean, p_std = _mean_std(part, "pearson")
        r_mean, r_std = _mean_std(part, "rmse")
        m_mean, m_std = _mean_std(part, "mae")
        p_mean, p_std, r_mean, r_std = (x[methods] for x in (p_mean, p_std, r_mean, r_std))
        rk = ranks(p_mean)
        lines += ["### (a) Pearson r (mean ± std over seeds; best in bold)", ""]
        lines += _fmt_table(p_mean, p_std, True)
        lines.append("| No. 1st | " + " | ".join(str(int((rk[m] == 1).sum())) for m in methods) + " |")
        lines.append("| Avg. rank | " + " | ".join(f"{rk[m].mean():.2f}" for m in methods) + " |")
        goals = goal_check(p_mean, r_mean)
        if goals:
            lines += ["", "Goals (GATE): first in Pearson on "
                      f"{goals['gate_first_in_pearson']}/{goals['tasks']} tasks (goal >= 8/10), average rank "
                      f"{goals['gate_average_rank']:.2f} (goal <= 1.3)"
                      + (f", negative transfer on {len(goals['gate_negative_transfer_tasks'])} task(s) "
                         f"{goals['gate_negative_transfer_tasks']} (goal 0)"
                         if "gate_negative_transfer_tasks" in goals else "")
                      + (f", mean per-task RMSE {goals['gate_rmse_vs_chemprop_mtl_percent']:+.1f}% vs "
                         "Chemprop MTL (goal <= -10% on scaffold)" if "gate_rmse_vs_chemprop_mtl_percent" in goals
                         else "") + "."]
        lines += ["", "### (b) test RMSE in original units (mean ± std)", ""]
        lines += _fmt_table(r_mean, r_std, False)
        if "stl" in methods:
            imp = improvement_over_stl(r_mean)
            lines += ["", "### (c) % RMSE improvement over STL (negative = negative transfer)", "",
                      "| task | " + " | ".join(imp.columns) + " |", "|---|" + "---|" * len(imp.columns)]
            lines += [f"| {t} | " + " | ".join(f"{imp.loc[t, m]:+.1f}" for m in imp.columns) + " |"
                      for t in imp.index]
            lines.append("| negative transfer (tasks) | "
                         + " | ".join(str(int((imp[m] < 0).sum())) for m in imp.columns) + " |")
            grouped_bar_chart({m: imp[m].to_dict() for m in imp.columns}, "% RMSE improvement over STL",
                              out / f"improvement_{split}.png", f"{split} split")
            lines += ["", f"![improvement over STL](improvement_{split}.png)"]
        gate = next((g for g in GATE_FIRST if g in methods), None)
        if gate:
            lines += ["", f"### (d) paired comparison: {gate} vs each baseline", "",
                      "Wilcoxon signed-rank test (two-sided) of RMSE_gate / RMSE_baseline - 1 over "
                      "(task, seed) pairs.", "",
                      "| baseline | pairs | GATE better | median RMSE change | p-value |",
                      "|---|---|---|---|---|"]
            for row in paired_tests(part, gate):
                lines.append(f"| {row['baseline']} | {row['pairs']} | {row['gate_better']} | "
                             f"{row['median_relative_rmse_change_%']:+.1f}% | {row['p_value']:.3g} |")
            extra = ablation_lines(part, gate) + alignment_effect_lines(part, gate)
            if extra:
                lines += [""] + extra
        preds = []
        for seed in seeds:
            for m in methods:
                f = Job(split, int(seed), m).folder(out) / "test_predictions.csv"
                if f.exists():
                    preds.append(pd.read_csv(f).assign(method=m, seed=seed))
        preds = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
        lines += ["", "### (e) parity plots", ""]
        for m in methods:
            if len(preds):
                parity_grid(preds[preds["method"] == m], m, out / f"parity_{split}_{m}.png", units)
                lines.append(f"![{m}](parity_{split}_{m}.png)")
        counts = part.groupby("task", sort=False)["n"].mean()
        lines += ["", "### (f) test counts, MAE and the worst-predicted test molecules", "",
                  "| task | test molecules (mean over seeds) | " + " | ".join(f"{m} MAE" for m in methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for t in counts.index:
            lines.append(f"| {t} | {counts[t]:.0f} | " + " | ".join(
                f"{m_mean.loc[t, m]:.4g} ± {m_std.loc[t, m]:.2g}" for m in methods) + " |")
        if len(preds):
            worst = worst_molecules(preds)
            lines += ["", "Five worst-predicted test molecules per task and method (all seeds):", "",
                      "| task | method | seed | SMILES | measured | predicted |", "|---|---|---|---|---|---|"]
            for _, w in worst.iterrows():
                lines.append(f"| {w['task']} | {w['method']} | {w['seed']} | `{w['smiles']}` | "
                             f"{w['y_true']:.4g} | {w['y_pred']:.4g} |")
        seconds = {r["method"]: 0.0 for r in results if r["split"] == split}
        for r in results:
            if r["split"] == split:
                seconds[r["method"]] += r["seconds"]
        lines += ["", "Wall time per method (all seeds): " + ", ".join(
            f"{m} {s / 60:.1f} min" for m, s in seconds.items()), ""]
    total = sum(r["seconds"] for r in results)
    lines += [f"Total job time: {total / 3600:.2f} h over {len(results)} jobs (the jobs' own clocks; jobs "
              "running side by side overlap in wall time).", ""]
    lines += missing_lines(list(left_out))
    lines += sweep_lines(out)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
