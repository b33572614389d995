"""Helpers shared by the benchmark scripts: the suite build they read, result files."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"  # ignored by git: suite builds, model directories
RESULTS = ROOT / "results"


def suite_dir(tasks: str | list[str] = "all") -> Path:
    """Build (once) and return a suite folder under benchmarks/work."""
    from molgate.data.suite import build_suite

    name = tasks if isinstance(tasks, str) else "_".join(tasks)
    out = WORK / f"suite_{name}"
    if not (out / "suite.parquet").exists():
        build_suite(tasks, out)
    return out


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2))
    return path


def reference10_split(name: str, seed: int = 0, cap: int | None = 1500, kind: str = "scaffold"):
    """The main job's setting: reference10, a balanced split capped at ``cap`` training labels per
    task (validation and test whole). Returns ``(suite.parquet, split file, work folder)``."""
    from molgate.data.splits import cap_train_per_task, make_split, save_split
    from molgate.data.table import read_table

    data = suite_dir("reference10") / "suite.parquet"
    work = WORK / name
    split_file = work / f"{kind}_seed{seed}_cap{cap}.json"
    if not split_file.exists():
        table, _ = read_table(data)
        split = cap_train_per_task(table, make_split(table, kind, seed), cap, seed)
        save_split(split, table, split_file)
    return data, split_file, work


def epoch_matmul_flops(model, loader) -> float:
    """Matrix-multiply FLOPs of one epoch's forward and backward passes over ``loader``
    (``torch.utils.flop_counter``; gathers, scatters and elementwise work left out): where a time
    ratio follows it, the extra cost is arithmetic, not overhead."""
    model.train()
    with FlopCounterMode(display=False) as counter:
        for batch in loader:
            loss, _ = model.training_loss(batch)
            loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())
