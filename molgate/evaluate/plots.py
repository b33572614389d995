"""Pictures a person would rather look at than read: parity plots and per-task bar charts."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Lay out, write (creating folders) and close a figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


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
        r = "n/a" if stats.get("pearson") is None else f"{stats['pearson']:.3f}"  # null: undefined r
        title += f"\nRMSE {stats['rmse']:.3g}  r {r}  n {stats['n']}"
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def _pca_2d(x: np.ndarray, basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Project rows of ``x`` on the two leading principal axes (of ``basis`` if given)."""
    ref = x if basis is None else basis
    mean = ref.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(ref - mean, full_matrices=False)
    return (x - mean) @ vt[:2].T, vt[:2]


def lf_frame_plot(u: np.ndarray, tasks: list[str], path: str | Path) -> Path:
    """PCA of every task's LF points ``u [K, N, d_lf]`` in one shared 2-D frame, one colour per task.

    Aligned tasks put the same molecule in the same place, so their clouds overlap.
    """
    K, N, _ = u.shape
    flat = u.reshape(K * N, -1)
    xy, _ = _pca_2d(flat)
    xy = xy.reshape(K, N, 2)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=110)
    cmap = plt.get_cmap("tab10" if K <= 10 else "tab20")
    for k, t in enumerate(tasks):
        ax.scatter(xy[k, :, 0], xy[k, :, 1], s=6, alpha=0.5, color=cmap(k % cmap.N), label=t,
                   edgecolors="none")
    ax.set_xlabel("LF PC 1")
    ax.set_ylabel("LF PC 2")
    ax.set_title(f"shared locally flat frame: {N} test molecules x {K} tasks", fontsize=9)
    ax.legend(fontsize=6, markerscale=2, loc="best", ncol=1 if K <= 10 else 2)
    return save_figure(fig, path)


def latent_spaces_plot(z: np.ndarray, y: np.ndarray, tasks: list[str], path: str | Path) -> Path:
    """One panel per task: PCA of its latent space ``z_k`` coloured by its label (grey = unknown)."""
    K = z.shape[0]
    cols = min(K, 5)
    rows = int(np.ceil(K / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.6 * rows), dpi=100, squeeze=False)
    for k, t in enumerate(tasks):
        ax = axes[k // cols][k % cols]
        xy, _ = _pca_2d(z[k])
        known = ~np.isnan(y[:, k])
        ax.scatter(xy[~known, 0], xy[~known, 1], s=4, color="#cccccc", edgecolors="none")
        sc = ax.scatter(xy[known, 0], xy[known, 1], s=6, c=y[known, k], cmap="viridis", edgecolors="none")
        if known.any():
            fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.02)
        ax.set_title(t, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for j in range(K, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("each task's latent space (PCA), coloured by its label", fontsize=9)
    return save_figure(fig, path)


def ratio_heatmap(ratios: np.ndarray, tasks: list[str], path: str | Path,
                  title: str = "transfer ratios lambda[source, target]") -> Path:
    """Source (rows) x target (columns) heatmap of the transfer ratios; the diagonal is unused."""
    ratios = np.asarray(ratios, dtype=float).copy()
    np.fill_diagonal(ratios, np.nan)
    K = len(tasks)
    fig, ax = plt.subplots(figsize=(1.2 + 0.32 * K + 2, 1.0 + 0.32 * K + 1.5), dpi=110)
    im = ax.imshow(ratios, cmap="magma")
    ax.set_xticks(range(K), tasks, rotation=90, fontsize=6 if K > 12 else 8)
    ax.set_yticks(range(K), tasks, fontsize=6 if K > 12 else 8)
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    if K <= 12:
        for a in range(K):
            for t in range(K):
                if a != t:
                    ax.text(t, a, f"{ratios[a, t]:.2f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
