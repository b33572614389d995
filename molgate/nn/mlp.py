r"""Per-task MLPs with stacked weights: GATE's Encoder MLP, Transfer, Inverse and Head, the
prediction heads, and the initialiser of every stacked weight.

Task k owns an MLP :math:`f_k`; all K of them are stored as ``[K, out, in]`` tensors and applied
with one batched matmul per layer:

.. math::

    a^{(0)} = x, \qquad
    a^{(l+1)} = \mathrm{dropout}\left(\tau\left(W^{[k]}_l a^{(l)} + b^{[k]}_l\right)\right), \qquad
    f_k(x) = W^{[k]}_L a^{(L)} + b^{[k]}_L

(no activation after the last layer). Input ``x [K, *S, d_in]``: slice k goes through task k's
MLP, ``*S`` are any sample dims (molecules, perturbations, source tasks).

GATE also needs one task's module applied to *another* task's tensor: the mapping loss evaluates
:math:`\mathrm{Head}_t(\mathrm{Inverse}_t(u_a))` for every source a. Put the source axis among the
sample dims (``x[t, a, n] = u_a`` of molecule n) and slice t is still processed by module t; or pass
``index`` to pick, for each leading slice, which task's weights to use.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from chemprop.nn.utils import get_activation_function
from torch import Tensor, nn

__all__ = ["BatchedLinear", "BatchedMLP", "init_stacked_linear_"]


def init_stacked_linear_(weight: Tensor, bias: Tensor | None) -> None:
    """Initialise ``[K, out, in]`` weights slice by slice exactly as :class:`torch.nn.Linear` does.

    ``nn.init.kaiming_uniform_(a=sqrt(5))`` would read the fan-in of a 3-D tensor from the wrong
    axis, so the equivalent bound ``1/sqrt(in)`` is applied directly.
    """
    bound = 1.0 / math.sqrt(weight.shape[-1]) if weight.shape[-1] > 0 else 0.0
    with torch.no_grad():
        weight.uniform_(-bound, bound)
        if bias is not None:
            bias.uniform_(-bound, bound)


class BatchedLinear(nn.Module):
    """K affine maps ``y_k = W_k x_k + b_k`` with ``W [K, d_out, d_in]``, applied in one ``bmm``."""

    def __init__(self, n_tasks: int, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.n_tasks, self.d_in, self.d_out = n_tasks, d_in, d_out
        self.weight = nn.Parameter(torch.empty(n_tasks, d_out, d_in))
        self.bias = nn.Parameter(torch.empty(n_tasks, d_out)) if bias else None
        init_stacked_linear_(self.weight, self.bias)

    def forward(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        """``x [K', *S, d_in] -> [K', *S, d_out]``; slice j uses task ``index[j]`` (default: task j)."""
        weight, bias = self.weight, self.bias
        if index is not None:
            weight = weight[index]
            bias = bias[index] if bias is not None else None
        if x.shape[0] != weight.shape[0]:
            raise ValueError(f"leading axis of x ({x.shape[0]}) must match the tasks used ({weight.shape[0]})")
        rows = x.reshape(x.shape[0], -1, self.d_in)
        wt = weight.transpose(1, 2)
        out = torch.bmm(rows, wt) if bias is None else torch.baddbmm(bias.unsqueeze(1), rows, wt)
        return out.reshape(*x.shape[:-1], self.d_out)

    def extra_repr(self) -> str:
        return f"n_tasks={self.n_tasks}, d_in={self.d_in}, d_out={self.d_out}, bias={self.bias is not None}"


class BatchedMLP(nn.Module):
    """K MLPs ``d_in -> d_hidden (x n_layers) -> d_out`` run together (see the module docstring).

    Parameters
    ----------
    n_tasks : int
        K, the number of per-task MLPs.
    d_in, d_hidden, d_out : int
        input, hidden and output widths.
    n_layers : int
        number of *hidden* layers, as in chemprop's ``MLP.build``: 0 is a single affine map,
        1 is ``Linear -> act -> dropout -> Linear``.
    dropout : float
        dropout probability before every linear layer except the first.
    activation : str | nn.Module
        resolved with chemprop's ``get_activation_function``.
    """

    def __init__(
        self,
        n_tasks: int,
        d_in: int,
        d_hidden: int,
        d_out: int,
        n_layers: int = 1,
        dropout: float = 0.0,
        activation: str | nn.Module = "relu",
    ):
        super().__init__()
        if n_layers < 0:
            raise ValueError(f"n_layers must be >= 0, got {n_layers}")
        self.n_tasks, self.d_in, self.d_hidden, self.d_out = n_tasks, d_in, d_hidden, d_out
        self.n_layers = n_layers
        dims = [d_in] + [d_hidden] * n_layers + [d_out]
        self.layers = nn.ModuleList(BatchedLinear(n_tasks, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = nn.Dropout(dropout)
        self.act = get_activation_function(activation)

    def forward(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        """``x [K', *S, d_in] -> [K', *S, d_out]``; slice j uses task ``index[j]`` (default: task j)."""
        x = self.layers[0](x, index)
        for layer in self.layers[1:]:
            x = layer(self.dropout(self.act(x)), index)
        return x

    def unbatched(self, task: int) -> nn.Sequential:
        """An independent copy of task ``task``'s MLP as plain ``nn.Linear`` layers (for checks/export)."""
        modules: list[nn.Module] = []
        for i, layer in enumerate(self.layers):
            if i > 0:
                modules += [self.act, nn.Dropout(self.dropout.p)]
            linear = nn.Linear(layer.d_in, layer.d_out, bias=layer.bias is not None)
            with torch.no_grad():
                linear.weight.copy_(layer.weight[task])
                if layer.bias is not None:
                    linear.bias.copy_(layer.bias[task])
            modules.append(linear)
        return nn.Sequential(*modules)

    @classmethod
    def stack(cls, mlps: Sequence[nn.Sequential], dropout: float = 0.0,
              activation: str | nn.Module = "relu") -> "BatchedMLP":
        """Stack K MLPs of identical shape (their ``nn.Linear`` layers in order) into one module."""
        linears = [[m for m in mlp.modules() if isinstance(m, nn.Linear)] for mlp in mlps]
        if len({tuple(tuple(l.weight.shape) for l in ls) for ls in linears}) != 1:
            raise ValueError("all MLPs must have the same layer shapes")
        if any(l.bias is None for ls in linears for l in ls):
            raise ValueError("every nn.Linear must have a bias")
        first = linears[0]
        if len({l.out_features for l in first[:-1]}) > 1:
            raise ValueError("hidden layers must all have the same width")
        batched = cls(len(mlps), first[0].in_features, first[0].out_features, first[-1].out_features,
                      len(first) - 1, dropout, activation)
        with torch.no_grad():
            for j, layer in enumerate(batched.layers):
                layer.weight.copy_(torch.stack([ls[j].weight for ls in linears]))
                layer.bias.copy_(torch.stack([ls[j].bias for ls in linears]))
        return batched
