"""Masked regression loss: missing labels contribute neither value nor gradient."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_squared_error(pred: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Squared errors, exactly 0 where the label is missing.

    The label is replaced *before* the subtraction: a NaN label under ``where`` would still send a
    NaN gradient through the branch that is not taken.
    """
    y = torch.where(mask, y, pred.detach())
    return (pred - y) ** 2 * mask


def masked_mse(pred: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Mean over the labelled (molecule, task) entries, as Chemprop does for multi-task data."""
    return masked_squared_error(pred, y, mask).sum() / mask.sum().clamp(min=1)
