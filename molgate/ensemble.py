"""Several seeds of one model in one folder: their mean is the prediction, their spread a warning.

``train --ensemble-size N`` trains N models on the same split with seeds ``seed, seed+1, ...``.
The first is the folder itself, so every reader of a model folder keeps working; the others are
complete model folders under ``members/<k>/``, listed in ``config.json`` as ``ensemble``.
``predict`` and ``screen`` average the members and report ``<task>_std``: the standard deviation
(ddof 0) of the members' predictions. It measures how much equally good fits disagree (model
uncertainty): large where the training data say little, zero for one model. It does not include
the noise of the labels, so it ranks predictions by how far to trust them rather than being a
calibrated error bar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from molgate.errors import InputError
from molgate.train.checkpoint import read_config

MEMBERS = "members"


def member_dirs(model_dir: str | Path) -> list[Path]:
    """The folder itself, then its ensemble members (each a whole model folder)."""
    model_dir = Path(model_dir)
    members = read_config(model_dir).get("ensemble", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise InputError("config.json: 'ensemble' is not a list of member folders",
                         file=str(model_dir / "config.json"))
    dirs = [model_dir / m for m in members]
    for d in dirs:
        if not (d / "config.json").is_file():
            raise InputError("ensemble member folder is missing", file=str(d))
    return [model_dir, *dirs]


def fit_members(make: Callable, table, split, folder: Path, size: int, save: Callable) -> list[str]:
    """Train members 1..size-1 (``make(k)`` gives the estimator with seed offset ``k``) on the
    same split into ``folder/members/<k>``, ``save(estimator, dir)`` each, and list them in
    ``folder/config.json``."""
    names = []
    for k in range(1, size):
        target = folder / MEMBERS / str(k)
        save(make(k).fit(table, split, target), target)
        names.append(f"{MEMBERS}/{k}")
    if names:
        path = folder / "config.json"
        config = json.loads(path.read_text())
        config["ensemble"] = names
        path.write_text(json.dumps(config, indent=2))
    return names


def mean_and_std(predictions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean over members, and their std (None for a single model)."""
    stack = np.stack(predictions)
    return stack.mean(axis=0), (stack.std(axis=0) if len(predictions) > 1 else None)
