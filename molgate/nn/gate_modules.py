r"""Two ways of running GATE's stacked per-task MLPs (:class:`~molgate.nn.mlp.BatchedMLP`) that
compute the same function as ``mlp(x)`` with fewer or cheaper operations.

**One task's MLP on its own rows** (:class:`TaskMLPs`). The mapping term sends different numbers of
rows through each target's Inverse and Head. ``mlp(x, index)`` needs one equal-sized block per
group, so rows are padded, and the gathered ``weight[index]`` costs a full ``[K, out, in]``
scatter in the backward pass. Here every layer's weights are unbound once,
:math:`W_l = (W_l^{[1]}, \dots, W_l^{[K]})`, and task t's rows go through
:math:`f_t(x) = W^{[t]}_L \tau(\dots \tau(W^{[t]}_1 x + b^{[t]}_1) \dots) + b^{[t]}_L` with plain
matmuls: no padding, one stack per layer in the backward pass.

**One shared input and its perturbations** (:func:`perturbed_views`). With trunk sharing every task
reads the same molecule vector e, and the distance term also needs its M perturbations
:math:`e + o_i` (:math:`o_i` = noise times the detached batch spread, constant). The first layer is
affine, so

.. math::

    W^{[k]}_1 (e + o_i) + b^{[k]}_1 = \underbrace{(W^{[k]}_1 e + b^{[k]}_1)}_{\text{once}} + W^{[k]}_1 o_i

The forward cost is the same, but e now enters through B rows instead of (1 + M) B: the gradient
that flows back into the D-MPNN is one ``[B, K d] x [K d, d_in]`` product, where the stacked form
summed (1 + M) K products of that size. Only rounding differs from ``mlp(e + o_i)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from molgate.nn.mlp import BatchedMLP

__all__ = ["TaskMLPs", "perturbed_views"]


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


def perturbed_views(mlp: BatchedMLP, e: Tensor, offsets: Tensor | None) -> Tensor:
    """``mlp`` of every task on ``e [B, d_in]`` and on ``e + offsets[i]`` (``offsets [M, B, d_in]``,
    no gradient): ``[K, 1 + M, B, d_out]``, view 0 the unperturbed one (module docstring)."""
    first = mlp.layers[0]
    K, d_out = first.n_tasks, first.d_out
    B = e.shape[0]
    weight = first.weight.reshape(K * d_out, first.d_in)  # task k's rows k*d_out ... (k+1)*d_out - 1
    if first.bias is None:
        base = e @ weight.T
    else:
        base = torch.addmm(first.bias.reshape(1, K * d_out), e, weight.T)  # [B, K d_out]
    views = base.unsqueeze(0)
    if offsets is not None:
        shifts = (offsets.reshape(-1, first.d_in) @ weight.T).reshape(offsets.shape[0], B, K * d_out)
        views = torch.cat([views, base.unsqueeze(0) + shifts])
    x = views.reshape(views.shape[0], B, K, d_out).permute(2, 0, 1, 3)  # [K, 1 + M, B, d_out]
    for layer in mlp.layers[1:]:
        x = layer(mlp.dropout(mlp.act(x)))
    return x
