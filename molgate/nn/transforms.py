r"""Target transforms kept inside the model, so a saved model predicts in original units.

Standardisation per task, fitted on the labelled training molecules only (missing labels are
NaN and left out):

.. math::

    \tilde y_k = (y_k - \mu_k) / \sigma_k, \qquad y_k = \sigma_k \tilde y_k + \mu_k

with :math:`\sigma_k = 1` for a task whose training labels are all equal.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TargetScaler(nn.Module):
    """Standardisation fitted on the training split; saved with the model so it predicts in units."""

    def __init__(self, n_tasks: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_tasks))
        self.register_buffer("std", torch.ones(n_tasks))

    def fit(self, y) -> "TargetScaler":
        y = torch.as_tensor(y, dtype=torch.float64)
        mask = ~torch.isnan(y)
        count = mask.sum(0).clamp(min=1)
        mean = torch.where(mask, y, 0.0).sum(0) / count
        var = torch.where(mask, (y - mean) ** 2, 0.0).sum(0) / count
        std = var.sqrt()
        self.mean.copy_(mean.float())
        self.std.copy_(torch.where(std > 0, std, torch.ones_like(std)).float())
        return self

    def transform(self, y: Tensor) -> Tensor:
        return (y - self.mean) / self.std

    def inverse(self, y: Tensor) -> Tensor:
        return y * self.std + self.mean
