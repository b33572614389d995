r"""The regression loss, in one place: training, validation, early stopping and checkpoint
selection of every method use it with the same named reduction.

With :math:`L_k` the molecules labelled for task k and :math:`e_{bk} = \hat y_{bk} - y_{bk}`
(standardised units):

.. math::

    \text{pooled}   &= \frac{\sum_k \sum_{b \in L_k} e_{bk}^2}{\sum_k |L_k|}
                       \quad \text{(Chemprop's multi-task MSE: every label weighs the same)} \\
    \text{per-task} &= \sum_k \frac{1}{|L_k|} \sum_{b \in L_k} e_{bk}^2
                       \quad \text{(every task weighs the same; } |L_k| = 0 \Rightarrow 0)

Why both: with ``pooled`` a task with 18,000 labels outweighs one with 400 by 45 to 1, and the
validation loss that selects checkpoints is then mostly the large task's. GATE's loss (the spec's
``l_reg = sum_k MSE_k``) is ``per-task``; comparing GATE with an MTL trained and selected on
``pooled`` mixes the effect of the alignment with that of the reweighting. The default reduction
of each method is :data:`DEFAULT_REDUCTION`; every method accepts either.

Missing labels are replaced *before* the subtraction, so a NaN label under the mask sends no NaN
gradient through the branch that is not taken.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Reduction = Literal["pooled", "per-task"]
REDUCTIONS: tuple[str, ...] = ("pooled", "per-task")
#: the reduction a method trains and selects with unless told otherwise
DEFAULT_REDUCTION = {"stl": "pooled", "mtl": "pooled", "gate": "per-task", "gate-pair": "per-task",
                     "gate-extended": "per-task", "gate-task-addition": "per-task"}


def default_reduction(method: str) -> str:
    return DEFAULT_REDUCTION.get(method, "pooled")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def labelled_mask(y: Tensor, mask: Tensor | None = None) -> Tensor:
    """``[B, K]`` bool: True where a label exists (not NaN and, if given, ``mask`` True)."""
    labelled = ~torch.isnan(y)
    return labelled if mask is None else labelled & mask.bool()


def masked_squared_error(pred: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
    """Squared errors ``[B, K]``, exactly 0 (value and gradient) where the label is missing."""
    labelled = labelled_mask(y, mask)
    y = torch.where(labelled, y, pred.detach())
    return (pred - y).pow(2) * labelled


def reduce_squared_errors(se_sum: Tensor, counts: Tensor, reduction: str) -> Tensor:
    """The loss from per-task sums of squared errors ``[K]`` and label counts ``[K]``."""
    if reduction == "pooled":
        return se_sum.sum() / counts.sum().clamp_min(1)
    if reduction == "per-task":
        return (se_sum / counts.clamp_min(1)).sum()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def regression_loss(pred: Tensor, y: Tensor, mask: Tensor | None = None,
                    reduction: str = "per-task") -> Tensor:
    """The masked regression loss of a batch under ``reduction`` (module docstring)."""
    se = masked_squared_error(pred, y, mask)
    counts = labelled_mask(y, mask).sum(dim=0).to(se.dtype)
    return reduce_squared_errors(se.sum(dim=0), counts, reduction)


class SquaredErrorTotals:
    """Per-task sums of squared errors and label counts over many batches (a validation epoch),
    so the epoch's loss is that of the whole set, not a mean of batch means."""

    def __init__(self):
        self.se_sum: Tensor | None = None
        self.counts: Tensor | None = None

    def update(self, pred: Tensor, y: Tensor, mask: Tensor | None = None) -> None:
        se = masked_squared_error(pred.detach(), y, mask).sum(dim=0).double().cpu()
        n = labelled_mask(y, mask).sum(dim=0).double().cpu()
        self.se_sum = se if self.se_sum is None else self.se_sum + se
        self.counts = n if self.counts is None else self.counts + n

    def value(self, reduction: str) -> float:
        if self.se_sum is None:
            return float("nan")
        return float(reduce_squared_errors(self.se_sum, self.counts, reduction))


__all__ = ["Reduction", "REDUCTIONS", "DEFAULT_REDUCTION", "default_reduction", "check_reduction",
           "labelled_mask", "masked_squared_error", "reduce_squared_errors", "regression_loss",
           "SquaredErrorTotals"]
