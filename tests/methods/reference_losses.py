"""Reference GATE pair terms as plain O(K^2) double loops, one pair at a time, written straight
from the equations of ``molgate/methods/gate_losses.py``: what the fast forms are tested against."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from molgate.methods.gate_losses import labelled_mask, pair_normaliser


def _loop_pair_sum(n_tasks: int, pair_loss: Callable[[int, int], Tensor], weights: Tensor | None,
                   reduction: str) -> Tensor:
    total: Tensor | float = 0.0
    for a in range(n_tasks):
        for t in range(n_tasks):
            if a != t:
                w = 1.0 if weights is None else weights[a, t]
                total = total + w * pair_loss(a, t)
    return torch.as_tensor(total / pair_normaliser(n_tasks, reduction) if n_tasks > 1 else total)


def _source(x: Tensor, detach: bool) -> Tensor:
    return x.detach() if detach else x


def _variance(x: Tensor) -> Tensor:
    return ((x - x.mean(dim=0, keepdim=True)) ** 2).mean()


def pairwise_consistency_loss(u: Tensor, weights: Tensor | None = None, reduction: str = "target_mean",
                              form: str = "scale_free", detach_sources: bool = False) -> Tensor:
    """``sum_{a != t} lambda[a, t] MSE(u_a, u_t) [/ Var(u_t)] / c_K``."""
    def pair(a: int, t: int) -> Tensor:
        mse = F.mse_loss(_source(u[a], detach_sources), u[t])
        return mse / _variance(u[t]) if form == "scale_free" else mse

    return _loop_pair_sum(u.shape[0], pair, weights, reduction)


def task_distances(u_k: Tensor, u_pert_k: Tensor | None) -> Tensor:
    """``[M, B]`` perturbation distances of one task, or ``[1, P]`` distances of the batch pairs."""
    if u_pert_k is not None:
        return torch.stack([torch.linalg.vector_norm(u_k - u_pert_k[i], dim=-1)
                            for i in range(u_pert_k.shape[0])])
    B = u_k.shape[0]
    pairs = [torch.linalg.vector_norm(u_k[b] - u_k[c]) for b in range(B) for c in range(b + 1, B)]
    return torch.stack(pairs).unsqueeze(0)


def pairwise_distance_loss(u: Tensor, u_pert: Tensor | None, weights: Tensor | None = None,
                           reduction: str = "target_mean", form: str = "scale_free",
                           detach_sources: bool = False) -> Tensor:
    """Distances per task (divided by their mean if scale-free), then ``mean_i MSE(s_a^i, s_t^i)``."""
    s = []
    for k in range(u.shape[0]):
        d = task_distances(u[k], None if u_pert is None else u_pert[k])
        s.append(d / d.mean() if form == "scale_free" else d)

    def pair(a: int, t: int) -> Tensor:
        source = _source(s[a], detach_sources)
        return torch.stack([F.mse_loss(source[i], s[t][i]) for i in range(s[t].shape[0])]).mean()

    return _loop_pair_sum(u.shape[0], pair, weights, reduction)


def pairwise_mapping_loss(u: Tensor, y: Tensor, predict_one: Callable[[int, Tensor], Tensor],
                          mask: Tensor | None = None, weights: Tensor | None = None,
                          reduction: str = "target_mean", detach_sources: bool = False) -> Tensor:
    """``F.mse_loss(y_t[L_t], predict_one(t, u_a[L_t]))`` per pair; ``predict_one(t, x [N, d_lf]) -> [N]``."""
    labelled = labelled_mask(y, mask)

    def pair(a: int, t: int) -> Tensor:
        rows = labelled[:, t].nonzero().squeeze(1)
        if rows.numel() == 0:
            return u.new_zeros(())
        return F.mse_loss(predict_one(t, _source(u[a, rows], detach_sources)).reshape(-1), y[rows, t])

    return _loop_pair_sum(u.shape[0], pair, weights, reduction)
