"""Per-task prediction heads run as one batched computation.

``TaskHeads`` holds K small MLPs with stacked weights (a :class:`BatchedMLP`), so the cost does not
come from a Python loop over tasks.
"""

from __future__ import annotations

from torch import Tensor

from molgate.nn.mlp import BatchedMLP


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
