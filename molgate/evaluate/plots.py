"""Pictures a person would rather look at than read: parity plots and per-task bar charts."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def parity_plot(y_true, y_pred, task: str, unit: str, path: str | Path, stats: dict | None = None) -> Path:
    """Predicted vs measured with the y = x line; the title carries RMSE and Pearson r."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    keep = ~np.isnan(y_true)
    t, p = y_true[keep], y_pred[keep]
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=110)
    ax.scatter(t, p, s=10, alpha=0.6, edgecolors="none")
    if len(t):
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        pad = 0.04 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
    label = f" [{unit}]" if unit else ""
    ax.set_xlabel(f"measured{label}")
    ax.set_ylabel(f"predicted{label}")
    title = task
    if stats:
        title += f"\nRMSE {stats['rmse']:.3g}  r {stats['pearson']:.3f}  n {stats['n']}"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def grouped_bar_chart(values: dict[str, dict[str, float]], ylabel: str, path: str | Path,
                      title: str = "") -> Path:
    """``values[series][task]`` as grouped bars, one group per task (e.g. test RMSE per method)."""
    series = list(values)
    tasks = list(dict.fromkeys(t for s in series for t in values[s]))
    x = np.arange(len(tasks))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(tasks) + 1.5), 3.6), dpi=110)
    for i, s in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, [values[s].get(t, np.nan) for t in tasks],
               width, label=s)
    ax.set_xticks(x, tasks, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
