"""summarize_suite: per-task counts and value ranges, and a task-overlap heatmap."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)
from matplotlib.colors import LogNorm  # noqa: E402

from .tasks import TASKS  # noqa: E402


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    suite = path / "suite.parquet" if path.is_dir() else path
    return suite, suite.parent / "manifest.json"


def overlap_matrix(wide: pd.DataFrame) -> pd.DataFrame:
    """Number of molecules each pair of tasks shares (diagonal: molecules per task)."""
    known = wide.drop(columns="smiles").notna().astype(np.int64)
    return known.T @ known


def summarize_suite(path, out_png=None) -> pd.DataFrame:
    """Per-task count, unit, min/median/max of a built suite (directory or suite.parquet).

    If `out_png` is given, also writes a heatmap of the task-overlap counts there.
    """
    suite, manifest_path = _paths(path)
    wide = pd.read_parquet(suite)
    units = {}
    if manifest_path.exists():
        units = {k: v["unit"] for k, v in json.loads(manifest_path.read_text())["tasks"].items()}
    rows = []
    for task in wide.columns.drop("smiles"):
        col = wide[task].dropna()
        unit = units.get(task, TASKS[task].unit if task in TASKS else "")
        rows.append({"task": task, "count": int(col.size), "unit": unit,
                     "min": col.min() if col.size else np.nan,
                     "median": col.median() if col.size else np.nan,
                     "max": col.max() if col.size else np.nan})
    table = pd.DataFrame(rows).set_index("task")
    if out_png is not None:
        plot_overlap(overlap_matrix(wide), out_png)
    return table


def plot_overlap(overlap: pd.DataFrame, out_png) -> None:
    n = len(overlap)
    size = max(5.0, 0.32 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    data = overlap.to_numpy().astype(float)
    image = ax.imshow(np.where(data > 0, data, np.nan), cmap="viridis",
                      norm=LogNorm(vmin=1, vmax=max(2.0, data.max())))
    ax.set_xticks(range(n), overlap.columns, rotation=90, fontsize=8)
    ax.set_yticks(range(n), overlap.index, fontsize=8)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{int(data[i, j])}", ha="center", va="center", fontsize=6,
                        color="white")
    fig.colorbar(image, ax=ax, label="molecules with both tasks")
    ax.set_title("Task overlap (shared molecules)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
