"""Train one model with Lightning: early stopping, best weights, progress bar, CSV logs."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from molgate.featurize.batching import GraphDataset, make_loader
from molgate.methods.base import PropertyModel
from molgate.train.callbacks import BestWeights
from molgate.train.diagnostics import TermDiagnostics
from molgate.train.module import RegressionModule, TrainSettings


@dataclass
class FitResult:
    best_val_loss: float
    best_epoch: int
    epochs_run: int
    val_history: list[float]
    seconds: float
    train_molecules: int
    world_size: int = 1  # training processes (DDP)


def fit_model(model: PropertyModel, train: GraphDataset, val: GraphDataset, out_dir: str | Path,
              settings: TrainSettings, name: str = "logs", callbacks: list | None = None) -> FitResult:
    """Fit ``model`` in place; on return it holds the weights of its best validation epoch."""
    out_dir = Path(out_dir)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    module = RegressionModule(model, settings)
    best = BestWeights(out_dir / "checkpoints" / f"{name}-best.pt")
    callbacks = [best, EarlyStopping("val_loss", patience=settings.patience, mode="min"),
                 *(callbacks or [])]
    if model.parameter_groups():
        callbacks.append(TermDiagnostics())
    if settings.progress:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    for noisy in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                  "lightning.fabric.utilities.seed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    trainer = L.Trainer(
        max_epochs=settings.epochs, accelerator=settings.accelerator, devices=settings.devices,
        num_nodes=settings.num_nodes, strategy="ddp" if settings.distributed else "auto",
        logger=CSVLogger(out_dir, name=name, version=""), callbacks=callbacks,
        enable_checkpointing=False, enable_progress_bar=settings.progress,
        enable_model_summary=False, deterministic=True, num_sanity_val_steps=0,
        log_every_n_steps=10,
    )
    train_loader = make_loader(train, settings.batch_size, shuffle=True, seed=settings.seed)
    val_loader = make_loader(val, settings.batch_size)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", ".*treespec.*")
        if model.keeps_parts_in_eval:
            warnings.filterwarnings("ignore", r".*module\(s\) in eval mode at the start of training.*")
        trainer.fit(module, train_loader, val_loader)
    seconds = time.perf_counter() - start
    best.restore(module)
    model.eval()
    return FitResult(best.best, best.best_epoch, trainer.current_epoch, module.val_history,
                     seconds, len(train), trainer.world_size)
