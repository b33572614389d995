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
from scipy.stats import wilcoxon  # noqa: E402

from molgate.benchmark.plan import Job  # noqa: E402
from molgate.evaluate.plots import grouped_bar_chart, save_figure  # noqa: E402

GATE_FIRST = ("gate", "gate-separate")


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
                    "p_value": p})
    return out


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


def write_report(out: str | Path, results: list[dict], settings: dict, units: dict[str, str] | None = None,
                 title: str = "molgate benchmark") -> Path:
    """Write ``OUT/report.md``, ``OUT/results.json`` and the figures; returns the report path."""
    out = Path(out)
    units = units or {}
    frame = results_frame(results)
    (out / "results.json").write_text(json.dumps({
        "settings": settings,
        "results": [{k: r[k] for k in ("split", "seed", "method", "seconds", "metrics", "train_labels")}
                    for r in results]}, indent=1))
    lines = [f"# {title}", "", "Settings: " + ", ".join(
        f"{k}={settings[k]}" for k in ("max_per_task", "epochs", "patience", "hidden_size", "batch_size")
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
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
