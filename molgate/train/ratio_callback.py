"""Lightning callback for the outer (lambda) updates of learned transfer ratios.

Every ``interval`` training steps it takes the current training batch and the next
``val_batches`` batches of the lambda part of the validation split (cycled, seeded; the test split
is never seen) and makes one hypergradient step
(:class:`~molgate.methods.transfer_ratios.TransferRatioLearner`). The inner step size ``eta`` of
the one-step unrolling is the current learning rate of the inner optimiser, and its Adam state
preconditions the unrolled step.
"""

from __future__ import annotations

import itertools

import lightning as L

from molgate.featurize.batching import GraphDataset, make_loader
from molgate.methods.transfer_ratios import TransferRatioLearner


class LearnedRatios(L.Callback):
    def __init__(self, learner: TransferRatioLearner, val: GraphDataset, batch_size: int, seed: int = 0):
        self.learner = learner
        self._val = (b for epoch in itertools.count()
                     for b in make_loader(val, batch_size, shuffle=True, seed=seed + epoch))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int):
        if trainer.global_step % self.learner.settings.interval:
            return
        optimizer = trainer.optimizers[0]
        eta = optimizer.param_groups[0]["lr"]
        vals = []
        for _ in range(self.learner.settings.val_batches):
            val = next(self._val)
            val.bmg.to(pl_module.device)
            vals.append(val._replace(y=val.y.to(pl_module.device), mask=val.mask.to(pl_module.device)))
        lam = self.learner.step(batch, vals, eta, self.learner.adam_preconditioner(optimizer))
        pl_module.log("ratio_mean", lam.sum() / max(lam.numel() - lam.shape[0], 1), on_step=True)
