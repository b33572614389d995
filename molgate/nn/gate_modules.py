r"""Two ways of running GATE's stacked per-task MLPs (:class:`~molgate.nn.mlp.BatchedMLP`) that
compute the same function as ``mlp(x)`` with fewer or cheaper operations.

**One task's MLP on its own rows** (:class:`TaskMLPs`). The mapping term sends different numbers of
rows through each target's Inverse and Head. ``mlp(x, index)`` needs one equal-sized block per
group, so rows are padded, and the gathered ``weight[index]`` costs a full ``[K, out, in]``
scatter in the backward pass. Here every layer's weights are unbound once,
:math:`W_l = (W_l^{[1]}, \dots, W_l^{[K]})`, and task t's rows go through
:math:`f_t(x) = W^{[t]}_L \tau(\dots \tau(W^{[t]}_1 x + b^{[t]}_1) \dots) + b^{[t]}_L` with plain
matmuls: no padding, one stack per layer in the backward pass.

**One shared input and its perturbations** (:func:`perturbed_rows`). With trunk sharing every task
reads the same molecule vector e, and the distance term also needs its M perturbations
:math:`e + o_i` (:math:`o_i` = noise times the detached batch spread, constant). The first layer is
affine, so

.. math::

    W^{[k]}_1 (e + o_i) + b^{[k]}_1 = \underbrace{(W^{[k]}_1 e + b^{[k]}_1)}_{\text{once}} + W^{[k]}_1 o_i

The forward cost is the same, but e now enters through B rows instead of (1 + M) B: the gradient
that flows back into the D-MPNN is one ``[B, K d] x [K d, d_in]`` product, where the stacked form
summed (1 + M) K products of that size. Only rounding differs from ``mlp(e + o_i)``.
With ``GateConfig.perturb_molecules = P`` **[ours]** only the batch's first P molecules are
perturbed (:func:`perturbed_rows`): B + M P rows instead of (1 + M) B.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from molgate.nn.mlp import BatchedMLP

__all__ = ["TaskMLPs", "perturbed_rows", "split_rows"]


class TaskMLPs:
    """Task t's MLP of a :class:`BatchedMLP` as plain matmuls on its unbound weight slices.

    Build it once per step (the unbinding is part of the autograd graph), then call it per task.
    """

    def __init__(self, mlp: BatchedMLP):
        self.mlp = mlp
        self.weights = [layer.weight.unbind(0) for layer in mlp.layers]
        self.biases = [None if layer.bias is None else layer.bias.unbind(0) for layer in mlp.layers]

    def __call__(self, x: Tensor, task: int) -> Tensor:
        """``x [*S, d_in] -> [*S, d_out]`` through task ``task``'s MLP."""
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            if i > 0:
                x = self.mlp.dropout(self.mlp.act(x))
            x = F.linear(x, weight[task], None if bias is None else bias[task])
        return x


def perturbed_rows(mlp: BatchedMLP, e: Tensor, offsets: Tensor | None) -> Tensor:
    """``mlp`` of every task on ``e [B, d_in]``, then on ``e[:P] + offsets[i]`` (``offsets [M, P,
    d_in]``, P <= B, no gradient), as one block of rows: ``[K, B + M P, d_out]``, the B unperturbed
    rows first, then copy i of molecule p at row ``B + i P + p`` (module docstring)."""
    first = mlp.layers[0]
    K, d_out = first.n_tasks, first.d_out
    weight = first.weight.reshape(K * d_out, first.d_in)  # task k's rows k*d_out ... (k+1)*d_out - 1
    if first.bias is None:
        base = e @ weight.T
    else:
        base = torch.addmm(first.bias.reshape(1, K * d_out), e, weight.T)  # [B, K d_out]
    rows = base
    if offsets is not None:
        m, p = offsets.shape[:2]
        shifts = (offsets.reshape(-1, first.d_in) @ weight.T).reshape(m, p, K * d_out)
        rows = torch.cat([base, (base[:p].unsqueeze(0) + shifts).reshape(m * p, K * d_out)])
    x = rows.reshape(rows.shape[0], K, d_out).transpose(0, 1)  # [K, B + M P, d_out]
    for layer in mlp.layers[1:]:
        x = layer(mlp.dropout(mlp.act(x)))
    return x


def split_rows(x: Tensor, b: int, m: int) -> tuple[Tensor, Tensor | None]:
    """``x [K, B + M P, d] -> (x[:, :B] [K, B, d], [K, M, P, d])``: the unperturbed rows and the
    perturbed copies of :func:`perturbed_rows` (None where ``m`` is 0)."""
    if not m:
        return x[:, :b], None
    return x[:, :b], x[:, b:].reshape(x.shape[0], m, -1, x.shape[-1])

