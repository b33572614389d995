"""Per-task prediction heads run as one batched computation, and the target scaler.

``TaskHeads`` holds K small MLPs with stacked weights ``[K, d_in, d_out]`` and applies them with one
``einsum`` per layer, so the cost does not come from a Python loop over tasks.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class StackedLinear(nn.Module):
    """K independent linear layers; input ``[B, d_in]`` (shared) or ``[K, B, d_in]``."""

    def __init__(self, n: int, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(n, 1, d_out))
        bound = 1.0 / math.sqrt(d_in)
        nn.init.uniform_(self.weight, -bound, bound)  # nn.Linear's default initialisation
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return torch.einsum("bi,kio->kbo", x, self.weight) + self.bias
        return torch.einsum("kbi,kio->kbo", x, self.weight) + self.bias


class TaskHeads(nn.Module):
    """K feed-forward heads (Chemprop's FFN: ``n_layers`` hidden layers, then one output each)."""

    def __init__(self, n_tasks: int, d_in: int, hidden_size: int = 300, n_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        dims = [d_in] + [hidden_size] * n_layers + [1]
        self.layers = nn.ModuleList(StackedLinear(n_tasks, a, b) for a, b in zip(dims, dims[1:]))
        self.dropout = nn.Dropout(dropout)
        self.n_tasks = n_tasks

    def forward(self, x: Tensor) -> Tensor:
        """``[B, d_in]`` (one input for all heads) or ``[K, B, d_in]`` -> ``[B, K]``."""
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(self.dropout(h))
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h.squeeze(-1).transpose(0, 1)


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
