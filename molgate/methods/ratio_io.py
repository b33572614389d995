r"""Transfer ratios on disk, and the grid search over them.

GATE weighs the transfer from source task ``a`` to target task ``t`` by :math:`\lambda_{at}`
(gate-spec section 5; :mod:`molgate.methods.transfer_ratios` learns them). On disk they are a
table ``{source: {target: value}}`` (``transfer_ratios.json``, diagonal left out); in the model a
``[K, K]`` matrix with a zero diagonal. Pairs a table leaves out keep the default 1.

The grid search trains GATE at every point of a symmetric grid,
:math:`\lambda_{at} = \lambda_{ta} \in G` for each unordered pair (``|G|^{K(K-1)/2}`` points, so
only for 2 to 4 tasks), and keeps the point of lowest validation loss. It is resumable: each
point's result is written beside it, and a rerun skips the points already done.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from molgate.errors import InputError


def ratio_matrix(ratios: dict, tasks: list[str]) -> np.ndarray:
    """``{source: {target: value}}`` -> ``[K, K]``; pairs not given keep the default 1."""
    matrix = np.ones((len(tasks), len(tasks)))
    for source, targets in ratios.items():
        for target, value in targets.items():
            for name in (source, target):
                if name not in tasks:
                    raise InputError(f"transfer ratio names unknown task '{name}' (tasks: {tasks})")
            matrix[tasks.index(source), tasks.index(target)] = float(value)
    np.fill_diagonal(matrix, 0.0)
    return matrix


def ratio_table(matrix: np.ndarray, tasks: list[str]) -> dict:
    """``[K, K]`` -> ``{source: {target: value}}`` without the diagonal (:func:`ratio_matrix`'s inverse)."""
    return {a: {t: float(matrix[i, j]) for j, t in enumerate(tasks) if i != j} for i, a in enumerate(tasks)}


def read_ratios(path: str | Path) -> dict:
    """A ``{source: {target: value}}`` JSON file (``--ratios-file``)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read transfer ratios: {exc}", file=str(path)) from None


def save_ratios(matrix: np.ndarray, tasks: list[str], out: Path, history: list | None = None) -> None:
    """``transfer_ratios.json`` (source -> target -> value) and, when learned, the trajectory."""
    (out / "transfer_ratios.json").write_text(json.dumps(ratio_table(matrix, tasks), indent=1))
    if history:
        (out / "transfer_ratios_history.json").write_text(json.dumps({"tasks": tasks, "steps": history}))


def symmetric_grid(tasks: list[str], values) -> list[tuple[dict, dict]]:
    """Every point of the symmetric grid: ``(row naming the pair values, ratio table)``."""
    pairs = list(itertools.combinations(tasks, 2))
    points = []
    for combination in itertools.product(values, repeat=len(pairs)):
        ratios: dict = {}
        for (a, t), v in zip(pairs, combination):
            ratios.setdefault(a, {})[t] = v
            ratios.setdefault(t, {})[a] = v
        points.append(({f"{a}<->{t}": v for (a, t), v in zip(pairs, combination)}, ratios))
    return points


def grid_search(tasks: list[str], values, out: Path,
                train_point: Callable[[Path, Path], tuple[float, float]]) -> tuple[list[dict], int]:
    """Train every grid point under ``OUT/grid/`` and copy the best (lowest validation loss) to
    ``out``, with ``grid_results.csv`` and ``.json``. ``train_point(folder, ratios_file)`` trains
    one model and returns ``(validation loss, seconds)``. Returns the rows and the best point."""
    if not 2 <= len(tasks) <= 4:
        raise InputError(f"--transfer-ratios grid is for GATE with 2 to 4 tasks ({len(tasks)} given: {tasks})")
    rows = []
    for i, (named, ratios) in enumerate(symmetric_grid(tasks, values)):
        folder = out / "grid" / f"point{i:03d}"
        ratio_path = folder.parent / f"point{i:03d}.ratios.json"
        done_path = folder.parent / f"point{i:03d}.result.json"
        row = {"point": i, **named}
        done = json.loads(done_path.read_text()) if done_path.exists() else {}
        if done.get("ratios") == ratios:
            rows.append(done["row"])  # resumed: this point already ran
            continue
        folder.parent.mkdir(parents=True, exist_ok=True)
        ratio_path.write_text(json.dumps(ratios))
        val_loss, seconds = train_point(folder, ratio_path)
        row.update(val_loss=val_loss, seconds=seconds)
        rows.append(row)
        done_path.write_text(json.dumps({"ratios": ratios, "row": row}))
    grid = pd.DataFrame(rows)
    best = int(grid.loc[grid["val_loss"].idxmin(), "point"])
    out.mkdir(parents=True, exist_ok=True)
    for item in (out / "grid" / f"point{best:03d}").iterdir():
        target = out / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    grid.to_csv(out / "grid_results.csv", index=False)
    (out / "grid_results.json").write_text(json.dumps({
        "best_point": best, "total_seconds": float(grid["seconds"].sum()), "points": rows}, indent=1))
    return rows, best
