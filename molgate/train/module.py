"""The LightningModule that trains any :class:`~molgate.methods.base.PropertyModel`.

Optimiser and schedule follow Chemprop: Adam with a Noam-like learning rate (linear warm-up from
``init_lr`` to ``max_lr`` over ``warmup_epochs``, then exponential decay to ``final_lr``).
The training loss is the model's own (:meth:`PropertyModel.training_loss`: the masked MSE for the
baselines, the five-term loss for GATE), whose regression term uses ``TrainSettings.reduction``.
The validation loss is the regression loss of the predictions over *all* labelled validation
entries of the epoch (not a mean of batch means) under the *same* reduction
(:mod:`molgate.methods.regression`), so training, early stopping and the best checkpoint watch one
objective.

Logging: every training step adds its loss parts to :class:`EpochMeans`; the epoch means are
logged once per epoch (``train_loss_epoch``, ``train_<term>``) and the step loss only on the
steps Lightning writes (``train_loss_step``, every ``log_every_n_steps``). The columns and values
of ``logs/metrics.csv`` are those of ``self.log(..., on_step=True, on_epoch=True)`` on every step,
which cost ~2 ms per logged value per step (7% of an MTL step).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightning as L
import torch
from chemprop.schedulers import build_NoamLike_LRSched

from molgate.featurize.batching import GraphBatch
from molgate.methods.base import PropertyModel
from molgate.methods.regression import SquaredErrorTotals, check_reduction


@dataclass
class TrainSettings:
    """How to train; Chemprop's defaults where it has one."""

    epochs: int = 50
    batch_size: int = 64
    patience: int = 10
    warmup_epochs: int = 2
    init_lr: float = 1e-4
    max_lr: float = 1e-3
    final_lr: float = 1e-4
    seed: int = 0
    accelerator: str = "cpu"
    devices: int = 1
    progress: bool = True
    num_nodes: int = 1  # with devices: Lightning's DDP across processes, GPUs or nodes
    reduction: str | None = None  # "pooled" or "per-task"; None: the method's default

    def __post_init__(self):
        if self.reduction is not None:
            check_reduction(self.reduction)

    @property
    def distributed(self) -> bool:
        return self.devices > 1 or self.num_nodes > 1

    def to_dict(self) -> dict:
        return asdict(self)


class EpochMeans:
    """Batch-size-weighted epoch means of the detached loss parts, ``sum_i n_i v_i / sum_i n_i``:
    what ``self.log(..., on_epoch=True, batch_size=n)`` reports, without its cost on every step."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, parts: dict[str, torch.Tensor], n: int) -> None:
        for name, value in parts.items():
            value = value.detach() * n
            self.sums[name] = self.sums[name] + value if name in self.sums else value
        self.count += n

    def means(self) -> dict[str, torch.Tensor]:
        return {name: total / self.count for name, total in self.sums.items()} if self.count else {}


class RegressionModule(L.LightningModule):
    def __init__(self, model: PropertyModel, settings: TrainSettings):
        super().__init__()
        self.model = model
        self.settings = settings
        if settings.reduction is not None:
            model.reduction = settings.reduction
        self._val = SquaredErrorTotals()
        self._train_parts = EpochMeans()
        self.val_history: list[float] = []

    def forward(self, batch: GraphBatch):
        return self.model(batch.bmg)

    def training_step(self, batch: GraphBatch, batch_idx: int):
        loss, parts = self.model.training_loss(batch)
        self._train_parts.add(parts, len(batch.bmg))
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:  # the steps Lightning writes
            self.log("train_loss_step", loss.detach(), prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def on_train_epoch_start(self):
        self._train_parts = EpochMeans()

    def on_train_epoch_end(self):
        means = self._train_parts.means()
        if "total" in means:
            self.log("train_loss_epoch", means.pop("total"), on_step=False, on_epoch=True)
        if means:
            self.log_dict({f"train_{k}": v for k, v in means.items()}, on_step=False, on_epoch=True)

    def on_validation_epoch_start(self):
        self._val = SquaredErrorTotals()

    def validation_step(self, batch: GraphBatch, batch_idx: int):
        self._val.update(self(batch), batch.y, batch.mask)

    def on_validation_epoch_end(self):
        totals = self._val
        if self.trainer.world_size > 1:  # every rank saw part of the validation set: sum them all
            if totals.se_sum is None:
                totals.update(torch.zeros(0, self.model.n_tasks), torch.zeros(0, self.model.n_tasks))
            both = torch.stack([totals.se_sum, totals.counts]).to(self.device)
            both = self.trainer.strategy.reduce(both, reduce_op="sum").cpu()
            totals.se_sum, totals.counts = both[0], both[1]
        val = totals.value(self.model.reduction)
        if not self.trainer.sanity_checking:
            self.val_history.append(val)
        self.log("val_loss", val, prog_bar=True)

    def transfer_batch_to_device(self, batch: GraphBatch, device, dataloader_idx: int):
        batch.bmg.to(device)
        context = None if batch.context is None else batch.context.to(device)
        return GraphBatch(batch.bmg, batch.y.to(device), batch.mask.to(device), context)

    def configure_optimizers(self):
        s = self.settings
        params = [p for p in self.parameters() if p.requires_grad]
        # the fused step is several times faster on CPU and GPU, same update to rounding
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        opt = torch.optim.Adam(params, lr=s.init_lr, fused=fused or None)
        # estimated_stepping_batches loads the train loader first; num_training_batches is still
        # inf at this point and would freeze the schedule at init_lr
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup = min(s.warmup_epochs * max(total // max(self.trainer.max_epochs, 1), 1), total - 1)
        cooldown = max(total - warmup, 1)
        sched = build_NoamLike_LRSched(opt, warmup, cooldown, s.init_lr, s.max_lr, s.final_lr)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
