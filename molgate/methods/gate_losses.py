r"""The GATE losses (gate-spec sections 2 and 5) on batched tensors, in O(K) or one matmul.

Shapes. K tasks, B molecules, M perturbations per molecule:
``z [K, B, d_z]`` task latents, ``z_rec [K, B, d_z]`` = Inverse_k(Transfer_k(z_k)),
``u [K, B, d_lf]`` = Transfer_k(z_k) (points in the shared LF frame),
``u_pert [K, M, B, d_lf]`` the LF points of the M perturbed inputs (the same perturbations for
every task), ``pred [B, K]`` = Head_k(z_k), ``y [B, K]`` standardised labels with NaN where
missing, optionally ``mask [B, K]`` (True = labelled; combined with ``~isnan(y)``).
``lambda [K, K]``: ``lambda[a, t]`` is the transfer ratio of source a -> target t; its diagonal is
ignored. ``MSE`` is the mean over every element it is given.

Per-task terms (summed over tasks, as in the spec):

.. math::

    l_{reg}  &= \sum_k \frac{1}{|L_k|} \sum_{b \in L_k} (y_{bk} - \hat y_{bk})^2
               \quad (L_k = \text{molecules labelled for } k;\ |L_k| = 0 \Rightarrow 0) \\
    l_{auto} &= \sum_k \mathrm{MSE}(z_k, \mathrm{Inverse}_k(\mathrm{Transfer}_k(z_k)))

Pair terms. For target t and source a != t, with :math:`s_k^i(b) = \lVert u_k(x_b) - u_k(x_b^i)\rVert_2`:

.. math::

    C[a, t] &= \mathrm{MSE}(u_a, u_t) = \frac{1}{B\,d_{lf}} \sum_{b, d} (u_{a,bd} - u_{t,bd})^2 \\
    D[a, t] &= \mathrm{mean}_i\, \mathrm{MSE}(s_a^i, s_t^i) = \frac{1}{M B} \sum_{i, b} (s_a^i(b) - s_t^i(b))^2 \\
    P[a, t] &= \frac{1}{|L_t|} \sum_{b \in L_t} \left(y_{bt} - \mathrm{Head}_t(\mathrm{Inverse}_t(u_{a,b}))\right)^2

and each pair term is :math:`l_X = \frac{1}{c_K} \sum_{a \ne t} \lambda[a, t]\, X[a, t]` over
*ordered* pairs (a, t). The normaliser :math:`c_K` is the ``pair_reduction`` option **[ours]**:

* ``"target_mean"`` (default): :math:`c_K = K - 1`. Each target's pair terms are averaged over
  its sources, then summed over targets, the same "sum over tasks" scale as l_reg and l_auto, so
  alpha..delta keep their meaning as K grows. For K = 2 this is the two-task GATE loss with both
  directions trained (cons and dis then count twice, as each task is once the target).
* ``"sum"``: :math:`c_K = 1`, the spec's literal sum over pairs.
* ``"pair_mean"``: :math:`c_K = K (K - 1)`, the mean over ordered pairs; for K = 2 and symmetric
  terms this is exactly the single MSE(u_a, u_t) of the ICLR paper.

K = 1 has no pairs and gives 0. With lambda all ones, the weighted and unweighted forms agree.

How the pair sums are computed (gate-spec section 5):

* no weights: C and D are symmetric, so :math:`\sum_{a \ne t} X[a,t] = 2 \sum_{a<t} X[a,t]`, and
  per element :math:`\sum_{a<t} (x_a - x_t)^2 = K \sum_k (x_k - \bar x)^2` with
  :math:`\bar x = \frac1K \sum_k x_k` (exact). So
  :math:`\sum_{a \ne t} C[a,t] = 2K \sum_k \mathrm{MSE}(u_k, \bar u)`: O(K), no pair is formed.
  The same identity holds for the scalars :math:`s_k^i(b)`.
* weights: the Gram matrix. With :math:`x_k` the flattened ``[B * d]`` values of task k (centred
  first by :math:`\bar x`, which leaves every difference unchanged and avoids cancellation),
  :math:`G = X X^\top` is one ``[K, Bd] x [Bd, K]`` matmul, the sum over molecules of the
  per-molecule Grams :math:`U_b U_b^\top`, and
  :math:`\sum_b \lVert x_{a,b} - x_{t,b}\rVert^2 = G_{aa} + G_{tt} - 2 G_{at}` for all pairs at once.
  For the distances the values are scalars, so G is ``[K, MB] x [MB, K]``: as cheap as forming
  the K^2 differences directly, and one code path serves both terms.
* mapping: only (molecule, t) pairs that carry a label are evaluated (L of them), grouped by
  target in chunks of a few pairs, and :math:`\mathrm{Head}_t(\mathrm{Inverse}_t(u_a))` is
  evaluated for all sources a in one call: O(K * L) rows, never O(K^2 B), and no target is
  padded to the count of the most labelled one.

Missing labels are replaced by 0 *before* any arithmetic, so they contribute neither loss nor NaN
gradients. The ``pairwise_*`` functions are plain double loops over (a, t), kept as the reference
the tests check the fast forms against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "PairReduction",
    "GateLossWeights",
    "labelled_mask",
    "regression_loss",
    "autoencoding_loss",
    "perturbation_distances",
    "pair_mse_matrix",
    "consistency_loss",
    "distance_loss",
    "mapping_pair_matrix",
    "mapping_loss",
    "total_loss",
    "pairwise_consistency_loss",
    "pairwise_distance_loss",
    "pairwise_mapping_loss",
]

PairReduction = Literal["target_mean", "sum", "pair_mean"]

#: ``(x [G, R, d_lf], targets [G]) -> [G, R]`` (or ``[..., 1]``): the R rows of group g go
#: through Head_t(Inverse_t(.)) with t = targets[g].
PredictFromLF = Callable[[Tensor], Tensor]


def labelled_mask(y: Tensor, mask: Tensor | None = None) -> Tensor:
    """``[B, K]`` bool: True where a label exists (not NaN and, if given, ``mask`` True)."""
    labelled = ~torch.isnan(y)
    return labelled if mask is None else labelled & mask.bool()


def _pair_normaliser(n_tasks: int, reduction: PairReduction) -> float:
    if reduction == "target_mean":
        return float(n_tasks - 1)
    if reduction == "sum":
        return 1.0
    if reduction == "pair_mean":
        return float(n_tasks * (n_tasks - 1))
    raise ValueError(f"unknown pair_reduction {reduction!r}; use 'target_mean', 'sum' or 'pair_mean'")


def _weighted_pair_sum(pair_matrix: Tensor, weights: Tensor | None, reduction: PairReduction) -> Tensor:
    """``(1/c_K) sum_{a != t} lambda[a, t] X[a, t]`` for a ``[K, K]`` pair matrix X."""
    K = pair_matrix.shape[0]
    if K < 2:
        return pair_matrix.sum() * 0.0
    off_diagonal = ~torch.eye(K, dtype=torch.bool, device=pair_matrix.device)
    w = off_diagonal.to(pair_matrix.dtype)
    if weights is not None:
        w = w * weights.to(pair_matrix.dtype)
    # where(), not a product, on the matrix itself: a non-finite diagonal must not leak in.
    terms = torch.where(off_diagonal, pair_matrix, torch.zeros_like(pair_matrix)) * w
    return terms.sum() / _pair_normaliser(K, reduction)


def _uniform_pair_sum(x: Tensor, reduction: PairReduction) -> Tensor:
    """``(1/c_K) sum_{a != t} MSE(x_a, x_t)`` via ``2K sum_k MSE(x_k, mean_k x_k)``: O(K)."""
    K = x.shape[0]
    if K < 2:
        return x.sum() * 0.0
    x = x.reshape(K, -1)
    spread = (x - x.mean(dim=0, keepdim=True)).pow(2).mean(dim=1).sum()
    return 2.0 * K * spread / _pair_normaliser(K, reduction)


def pair_mse_matrix(x: Tensor) -> Tensor:
    """``X[a, t] = MSE(x_a, x_t)`` for all pairs, ``x [K, ...] -> [K, K]``, via one Gram matmul."""
    K = x.shape[0]
    x = x.reshape(K, -1)
    x = x - x.mean(dim=0, keepdim=True)
    gram = x @ x.T
    sq_norms = torch.diagonal(gram)
    sq_dist = (sq_norms.unsqueeze(1) + sq_norms.unsqueeze(0) - 2.0 * gram).clamp_min(0.0)
    return sq_dist / x.shape[1]


def regression_loss(pred: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
    """``l_reg = sum_k MSE_k`` over the molecules labelled for k; a task without labels adds 0."""
    labelled = labelled_mask(y, mask)
    error = torch.where(labelled, pred - torch.where(labelled, y, torch.zeros_like(y)), torch.zeros_like(pred))
    per_task = error.pow(2).sum(dim=0) / labelled.sum(dim=0).clamp_min(1)
    return per_task.sum()


def autoencoding_loss(z: Tensor, z_rec: Tensor) -> Tensor:
    """``l_auto = sum_k MSE(z_k, Inverse_k(Transfer_k(z_k)))`` over all molecules; ``z [K, ...]``."""
    return (z - z_rec).pow(2).reshape(z.shape[0], -1).mean(dim=1).sum()


def consistency_loss(u: Tensor, weights: Tensor | None = None,
                     reduction: PairReduction = "target_mean") -> Tensor:
    """``l_cons = (1/c_K) sum_{a != t} lambda[a, t] MSE(u_a, u_t)``; O(K) if ``weights`` is None."""
    if weights is None:
        return _uniform_pair_sum(u, reduction)
    return _weighted_pair_sum(pair_mse_matrix(u), weights, reduction)


def perturbation_distances(u: Tensor, u_pert: Tensor) -> Tensor:
    """``s[k, i, b] = ||u_k(x_b) - u_k(x_b^i)||_2``: ``u [K, B, d]``, ``u_pert [K, M, B, d] -> [K, M, B]``."""
    return torch.linalg.vector_norm(u.unsqueeze(1) - u_pert, dim=-1)


def distance_loss(u: Tensor, u_pert: Tensor, weights: Tensor | None = None,
                  reduction: PairReduction = "target_mean") -> Tensor:
    """``l_dis = (1/c_K) sum_{a != t} lambda[a, t] mean_i MSE(s_a^i, s_t^i)``; O(K) without weights."""
    s = perturbation_distances(u, u_pert)
    if weights is None:
        return _uniform_pair_sum(s, reduction)
    return _weighted_pair_sum(pair_mse_matrix(s), weights, reduction)


def chunk_pairs_by_target(targets: Tensor, n_tasks: int, chunk: int) -> tuple[Tensor, ...]:
    """Group pairs by target into chunks of at most ``chunk`` pairs.

    Returns ``order`` (pairs sorted by target), and for each sorted pair its ``chunk_id`` and
    ``slot``, plus each chunk's target ``chunk_target``. Every chunk holds one target's pairs, so
    a chunk goes through one set of weights; padding is under ``chunk`` pairs per target.
    """
    order = torch.argsort(targets, stable=True)
    t_sorted = targets[order]
    counts = torch.bincount(t_sorted, minlength=n_tasks)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(len(order), device=targets.device) - starts[t_sorted]
    n_chunks = (counts + chunk - 1) // chunk
    chunk_start = torch.cumsum(n_chunks, 0) - n_chunks
    chunk_id = chunk_start[t_sorted] + torch.div(position, chunk, rounding_mode="floor")
    chunk_target = torch.repeat_interleave(torch.arange(n_tasks, device=targets.device), n_chunks)
    return order, chunk_id, position % chunk, chunk_target


def mapping_pair_matrix(u: Tensor, y: Tensor, predict_from_lf: PredictFromLF,
                        mask: Tensor | None = None, chunk: int = 16) -> Tensor:
    """``P[a, t] = MSE over L_t of (y_t, Head_t(Inverse_t(u_a)))``, ``[K, K]`` (0 where L_t is empty).

    Only the L labelled (molecule, target) pairs are evaluated, for every source a at once. They
    are grouped by target into chunks of ``chunk`` pairs (:func:`chunk_pairs_by_target`) and
    ``predict_from_lf(x [G, R, d_lf], targets [G]) -> [G, R]`` (a trailing 1 is squeezed) runs
    each chunk's ``R = chunk * K`` rows through its target's Inverse and Head, e.g.
    ``lambda x, t: head(inverse(x, t), t)`` for :class:`~molgate.nn.gate_modules.BatchedMLP`.
    Cost: O(K * (L + K * chunk)) rows and one weight copy per chunk, never O(K^2 B) for sparse
    labels, and no padding of every target to the most labelled one.
    """
    labelled = labelled_mask(y, mask)
    K = u.shape[0]
    mol, tgt = labelled.nonzero(as_tuple=True)  # [L]
    if mol.numel() == 0:
        return u.sum() * 0.0 + u.new_zeros(K, K)
    order, chunk_id, slot, chunk_target = chunk_pairs_by_target(tgt, K, chunk)
    mol, tgt = mol[order], tgt[order]
    x = u.new_zeros(len(chunk_target), chunk, K, u.shape[-1])
    x[chunk_id, slot] = u[:, mol].transpose(0, 1)  # the LF points of every source a
    pred = predict_from_lf(x.reshape(len(chunk_target), chunk * K, -1), chunk_target)
    if pred.dim() == 3 and pred.shape[-1] == 1:
        pred = pred.squeeze(-1)
    pred = pred.reshape(len(chunk_target), chunk, K)[chunk_id, slot]  # [L, K_a]
    error = (pred - y[mol, tgt].unsqueeze(1)).pow(2)
    per_target = error.new_zeros(K, K).index_add(0, tgt, error)  # [K_t, K_a]
    counts = labelled.sum(dim=0).clamp_min(1).to(error.dtype)
    return (per_target / counts.unsqueeze(1)).T


def mapping_loss(u: Tensor, y: Tensor, predict_from_lf: PredictFromLF, mask: Tensor | None = None,
                 weights: Tensor | None = None, reduction: PairReduction = "target_mean") -> Tensor:
    """``l_map = (1/c_K) sum_{a != t} lambda[a, t] P[a, t]`` (see :func:`mapping_pair_matrix`)."""
    return _weighted_pair_sum(mapping_pair_matrix(u, y, predict_from_lf, mask), weights, reduction)


def pair_terms_matrix(u: Tensor, u_pert: Tensor | None, y: Tensor, predict_from_lf: PredictFromLF | None,
                      mask: Tensor | None, weights: "GateLossWeights") -> Tensor:
    """``M[a, t] = (beta C + gamma P + delta D)[a, t] / c_K`` over the active pair terms, zero diagonal.

    The pair part of the GATE loss is then exactly ``sum(lambda * M)``, so ``M[a, t]`` is the
    derivative of the training loss with respect to the transfer ratio ``lambda[a, t]`` (what the
    bi-level hypergradient of :mod:`molgate.methods.transfer_ratios` differentiates).
    """
    active = weights.active()
    K = u.shape[0]
    total = u.new_zeros(K, K)
    if "cons" in active:
        total = total + active["cons"] * pair_mse_matrix(u)
    if "map" in active:
        total = total + active["map"] * mapping_pair_matrix(u, y, predict_from_lf, mask)
    if "dis" in active:
        total = total + active["dis"] * pair_mse_matrix(perturbation_distances(u, u_pert))
    if K < 2:
        return total * 0.0
    off_diagonal = ~torch.eye(K, dtype=torch.bool, device=u.device)
    return torch.where(off_diagonal, total, torch.zeros_like(total)) / _pair_normaliser(K, weights.pair_reduction)


@dataclass
class GateLossWeights:
    """``L = l_reg + alpha*l_auto + beta*l_cons + gamma*l_map + delta*l_dis`` (spec section 2).

    A term is computed only if its ``use_*`` switch is on and its weight is non-zero (ablations).
    ``pair_reduction`` normalises the pair sums (module docstring).
    """

    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0
    delta: float = 1.0
    use_auto: bool = True
    use_cons: bool = True
    use_map: bool = True
    use_dis: bool = True
    pair_reduction: PairReduction = "target_mean"

    def active(self) -> dict[str, float]:
        """The weighted terms that are switched on, by name: ``{"auto": alpha, ...}``."""
        terms = {"auto": (self.use_auto, self.alpha), "cons": (self.use_cons, self.beta),
                 "map": (self.use_map, self.gamma), "dis": (self.use_dis, self.delta)}
        return {name: w for name, (on, w) in terms.items() if on and w != 0.0}


def total_loss(
    pred: Tensor,
    y: Tensor,
    *,
    z: Tensor | None = None,
    z_rec: Tensor | None = None,
    u: Tensor | None = None,
    u_pert: Tensor | None = None,
    predict_from_lf: PredictFromLF | None = None,
    mask: Tensor | None = None,
    transfer_ratios: Tensor | None = None,
    weights: GateLossWeights | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The GATE loss and its detached components ``{"reg", "auto", "cons", "map", "dis", "total"}``.

    Only the inputs of active terms are needed. ``transfer_ratios`` is lambda ``[K, K]`` for all
    pair terms (None = uniform, which uses the O(K) forms for cons and dis).
    """
    weights = weights or GateLossWeights()
    reduction = weights.pair_reduction
    parts = {"reg": regression_loss(pred, y, mask)}
    active = weights.active()
    if "auto" in active:
        parts["auto"] = autoencoding_loss(z, z_rec)
    if "cons" in active:
        parts["cons"] = consistency_loss(u, transfer_ratios, reduction)
    if "map" in active:
        parts["map"] = mapping_loss(u, y, predict_from_lf, mask, transfer_ratios, reduction)
    if "dis" in active:
        parts["dis"] = distance_loss(u, u_pert, transfer_ratios, reduction)
    total = parts["reg"] + sum(active[name] * parts[name] for name in active)
    log = {name: value.detach() for name, value in parts.items()}
    log["total"] = total.detach()
    return total, log


# ---- reference double loops (tests only: O(K^2) Python loops, one pair at a time) ----------------


def _loop_pair_sum(n_tasks: int, pair_loss: Callable[[int, int], Tensor], weights: Tensor | None,
                   reduction: PairReduction) -> Tensor:
    total: Tensor | float = 0.0
    for a in range(n_tasks):
        for t in range(n_tasks):
            if a != t:
                w = 1.0 if weights is None else weights[a, t]
                total = total + w * pair_loss(a, t)
    return torch.as_tensor(total / _pair_normaliser(n_tasks, reduction) if n_tasks > 1 else total)


def pairwise_consistency_loss(u: Tensor, weights: Tensor | None = None,
                              reduction: PairReduction = "target_mean") -> Tensor:
    """Reference: ``sum_{a != t} lambda[a, t] F.mse_loss(u_a, u_t) / c_K`` by a double loop."""
    return _loop_pair_sum(u.shape[0], lambda a, t: F.mse_loss(u[a], u[t]), weights, reduction)


def pairwise_distance_loss(u: Tensor, u_pert: Tensor, weights: Tensor | None = None,
                           reduction: PairReduction = "target_mean") -> Tensor:
    """Reference: ``s_k = ||u_k - u_k^i||`` per task, then the double loop of ``mean_i MSE(s_a^i, s_t^i)``."""
    s = [torch.linalg.vector_norm(u[k].unsqueeze(0) - u_pert[k], dim=-1) for k in range(u.shape[0])]

    def pair(a: int, t: int) -> Tensor:
        return torch.stack([F.mse_loss(s[a][i], s[t][i]) for i in range(u_pert.shape[1])]).mean()

    return _loop_pair_sum(u.shape[0], pair, weights, reduction)


def pairwise_mapping_loss(u: Tensor, y: Tensor, predict_one: Callable[[int, Tensor], Tensor],
                          mask: Tensor | None = None, weights: Tensor | None = None,
                          reduction: PairReduction = "target_mean") -> Tensor:
    """Reference: ``F.mse_loss(y_t[L_t], predict_one(t, u_a[L_t]))`` per pair by a double loop.

    ``predict_one(t, x [N, d_lf]) -> [N]`` applies Head_t(Inverse_t(.)).
    """
    labelled = labelled_mask(y, mask)

    def pair(a: int, t: int) -> Tensor:
        rows = labelled[:, t].nonzero().squeeze(1)
        if rows.numel() == 0:
            return u.new_zeros(())
        return F.mse_loss(predict_one(t, u[a, rows]).reshape(-1), y[rows, t])

    return _loop_pair_sum(u.shape[0], pair, weights, reduction)
