"""Per-task prediction heads run as one batched computation, and the target scaler.

``TaskHeads`` holds K small MLPs with stacked weights (a :class:`BatchedMLP`), so the cost does not
come from a Python loop over tasks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molgate.nn.gate_modules import BatchedMLP


class TaskHeads(BatchedMLP):
    """K feed-forward heads (Chemprop's FFN: ``n_layers`` hidden layers, then one output each)."""

    def __init__(self, n_tasks: int, d_in: int, hidden_size: int = 300, n_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__(n_tasks, d_in, hidden_size, 1, n_layers, dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, d_in]`` (one input for all heads) or ``[K, B, d_in]`` -> ``[B, K]``."""
        if x.dim() == 2:
            x = x.expand(self.n_tasks, *x.shape)
        return super().forward(x).squeeze(-1).transpose(0, 1)


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
