"""Keep the weights of the best validation epoch, on disk and for restoring at the end."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import torch


class BestWeights(L.Callback):
    """Save ``best.pt`` (a plain state dict, loadable with ``weights_only=True``) on improvement."""

    def __init__(self, path: str | Path, monitor: str = "val_loss"):
        self.path = Path(path)
        self.monitor = monitor
        self.best = float("inf")
        self.best_epoch = -1
        self.state: dict | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule):
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        if value < self.best:
            self.best, self.best_epoch = value, trainer.current_epoch
            self.state = copy.deepcopy(pl_module.model.state_dict())
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(self.state, self.path)

    def restore(self, pl_module: L.LightningModule) -> None:
        if self.state is not None:
            pl_module.model.load_state_dict(self.state)
