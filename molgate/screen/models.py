"""The models a screen predicts with: one model or an ensemble, all tasks in one pass per batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from chemprop.data.collate import BatchMolGraph

from molgate.errors import InputError
from molgate.methods import PropertyModel
from molgate.ensemble import member_dirs
from molgate.train.checkpoint import load_model


PRECISIONS = ("fp32", "bf16")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX). Without it torch
    emulates bfloat16 and ``--precision bf16`` is several times *slower* than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private op: read the CPU flags instead (Linux)
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass
class ScreenModels:
    models: list[PropertyModel]
    tasks: list[str]
    units: list[str]
    featurizer: dict
    dirs: list[str]
    device: torch.device

    @property
    def ensemble(self) -> bool:
        return len(self.models) > 1

    def columns(self) -> list[str]:
        """The property columns of the output (with an ensemble: mean and std per property)."""
        if not self.ensemble:
            return list(self.tasks)
        return [c for t in self.tasks for c in (t, f"{t}_std")]

    @torch.inference_mode()
    def predict(self, graphs, batch_size: int = 1024, precision: str = "fp32") -> np.ndarray:
        """``[n, models, K]`` predictions in original units.

        ``precision="bf16"`` runs the matrix products in bfloat16 (autocast): about twice as fast
        on CPUs with AVX-512 BF16 or AMX and on GPUs, at a deviation far below a model's error
        (measured in ``benchmarks/screen_throughput.py``); the scaler stays in float32.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        out = []
        for start in range(0, len(graphs), batch_size):
            bmg = BatchMolGraph(graphs[start:start + batch_size])
            bmg.to(self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                preds = [m.predict_units(bmg).float() for m in self.models]
            out.append(torch.stack(preds, dim=1).cpu().numpy())
        if not out:
            return np.zeros((0, len(self.models), len(self.tasks)), dtype=np.float32)
        return np.concatenate(out)


def load_screen_models(model: str | Path, ensemble: list[str | Path] | None = None,
                       device: str | None = None) -> ScreenModels:
    """Load ``model`` and the ``ensemble`` members; all must predict the same tasks from the same
    graphs (tasks are matched by name, so their order may differ)."""
    unique: dict[Path, Path] = {}  # a folder's own ensemble members too, each folder once
    for d in [Path(model), *[Path(e) for e in (ensemble or [])]]:
        for member in member_dirs(d):
            unique.setdefault(member.resolve(), member)
    dirs = list(unique.values())
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    models, tasks, units, featurizer = [], None, None, None
    for d in dirs:
        m, config = load_model(d, map_location=dev)
        if tasks is None:
            tasks, units, featurizer = list(config["tasks"]), list(config.get("units", [])), config["featurizer"]
        else:
            if sorted(config["tasks"]) != sorted(tasks):
                raise InputError(f"ensemble member predicts {config['tasks']}, the first model {tasks}",
                                 file=str(d))
            if config["featurizer"] != featurizer:
                raise InputError("ensemble member uses other featuriser settings than the first model",
                                 file=str(d))
            m = _reorder(m, [config["tasks"].index(t) for t in tasks])
        models.append(m.to(dev).eval())
    units = units if units and len(units) == len(tasks) else [""] * len(tasks)
    return ScreenModels(models, tasks, units, featurizer, [str(d) for d in dirs], dev)


class _Reordered(PropertyModel):
    """A member whose task columns come in another order."""

    def __init__(self, model: PropertyModel, order: list[int]):
        super().__init__(model.n_tasks, model.d_v, model.d_e, model.config)
        self.inner, self.order = model, order
        self.scaler = model.scaler

    def predict_units(self, bmg):
        return self.inner.predict_units(bmg)[:, self.order]


def _reorder(model: PropertyModel, order: list[int]) -> PropertyModel:
    return model if order == sorted(order) else _Reordered(model, order)
