"""Masked regression loss: missing labels contribute neither value nor gradient."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_squared_error(pred: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Squared errors with missing labels set to exactly 0 (``where``, so no NaN leaks through)."""
    return torch.where(mask, (pred - y) ** 2, torch.zeros_like(pred))


def masked_mse(pred: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Mean over the labelled (molecule, task) entries, as Chemprop does for multi-task data."""
    return masked_squared_error(pred, y, mask).sum() / mask.sum().clamp(min=1)
