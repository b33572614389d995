r"""GATE's mapping term (gate-spec section 2): a source's LF point, decoded by the target's modules,
must predict the target's label.

Shapes as in :mod:`molgate.methods.gate_losses`: ``u [K, B, d_lf]`` LF points, ``y [B, K]`` labels,
``mask [B, K]``; :math:`L_t` the molecules labelled for target t. For every ordered pair (a, t):

.. math::

    P[a, t] = \frac{1}{|L_t|} \sum_{b \in L_t}
              \left(y_{bt} - \mathrm{Head}_t(\mathrm{Inverse}_t(u_{a,b}))\right)^2
    \qquad (0 \text{ where } L_t \text{ is empty})

and :math:`l_{map} = \frac{1}{c_K} \sum_{a \ne t} \lambda[a, t] P[a, t]`. Only labelled (molecule,
target) pairs are evaluated, never the K^2 B of every pair at every molecule. Two ways to run the
target's modules, the same numbers:

* :func:`mapping_pair_matrix_by_target` (what GATE trains with): for each target t, the
  :math:`(K - 1) |L_t|` rows :math:`u_{a,b}`, :math:`a \ne t, b \in L_t`, go through target t's
  modules as one block (``predict_by_target``). Exactly the rows the loss uses: the diagonal
  :math:`P[t, t]`, which every pair sum leaves out, is not computed (it is 0 in the result).
  ``sources = S < K - 1`` **[ours]** (``GateLossWeights.map_sources``; default: every source)
  draws, on each call, S of target t's K - 1 sources uniformly without replacement
  (:math:`A_t`) and evaluates only their rows:
  :math:`\hat P[a, t] = \frac{K - 1}{S} [a \in A_t] P[a, t]`, so :math:`E[\hat P] = P` and every
  pair sum is unbiased, at S / (K - 1) of the rows. This changes the loss (a noisy estimate of the
  same term), so it is an option, off by default.
* :func:`mapping_pair_matrix` (any ``predict_from_lf(x [G, R, d], targets [G])``): all K sources,
  diagonal included, grouped by target in chunks of ``chunk`` rows, the last chunk of each target
  padded. It costs up to ``K * chunk`` padded rows per target and a weight gather per chunk.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from molgate.methods.regression import labelled_mask

__all__ = ["PredictFromLF", "PredictByTarget", "chunk_pairs_by_target", "mapping_pair_matrix",
           "mapping_pair_matrix_by_target"]

#: ``(x [G, R, d_lf], targets [G]) -> [G, R]`` (or ``[..., 1]``): the R rows of group g go
#: through Head_t(Inverse_t(.)) with t = targets[g].
PredictFromLF = Callable[[Tensor, Tensor], Tensor]
#: ``xs -> preds``: ``xs[t] [R_t, d_lf]`` through Head_t(Inverse_t(.)), ``preds[t] [R_t]`` (or
#: ``[R_t, 1]``), for every target t.
PredictByTarget = Callable[[list[Tensor]], list[Tensor]]


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
                        mask: Tensor | None = None, chunk: int = 16, detach_sources: bool = False) -> Tensor:
    """``P [K, K]``, diagonal included, in target-sorted chunks (module docstring).

    ``predict_from_lf(x [G, R, d_lf], targets [G]) -> [G, R]`` runs each chunk's ``R = chunk * K``
    rows through its target's Inverse and Head. ``detach_sources``: the source points enter
    detached (only the target's modules learn).
    """
    labelled = labelled_mask(y, mask)
    K = u.shape[0]
    mol, tgt = labelled.nonzero(as_tuple=True)  # [L]
    if mol.numel() == 0:
        return u.sum() * 0.0 + u.new_zeros(K, K)
    source = u.detach() if detach_sources else u
    order, chunk_id, slot, chunk_target = chunk_pairs_by_target(tgt, K, chunk)
    mol, tgt = mol[order], tgt[order]
    x = u.new_zeros(len(chunk_target), chunk, K, u.shape[-1])
    x[chunk_id, slot] = source[:, mol].transpose(0, 1)  # the LF points of every source a
    pred = predict_from_lf(x.reshape(len(chunk_target), chunk * K, -1), chunk_target)
    if pred.dim() == 3 and pred.shape[-1] == 1:
        pred = pred.squeeze(-1)
    pred = pred.reshape(len(chunk_target), chunk, K)[chunk_id, slot]  # [L, K_a]
    error = (pred - y[mol, tgt].unsqueeze(1)).pow(2)
    per_target = error.new_zeros(K, K).index_add(0, tgt, error)  # [K_t, K_a]
    counts = labelled.sum(dim=0).clamp_min(1).to(error.dtype)
    return (per_target / counts.unsqueeze(1)).T


def mapping_pair_matrix_by_target(u: Tensor, y: Tensor, predict_by_target: PredictByTarget,
                                  mask: Tensor | None = None, detach_sources: bool = False,
                                  sources: int | None = None) -> Tensor:
    """``P [K, K]`` off the diagonal (diagonal 0): one block of ``(K - 1) |L_t|`` rows per target
    through ``predict_by_target`` (module docstring); with ``sources = S < K - 1`` the unbiased
    estimate from S sources per target drawn on this call. ``detach_sources`` as in
    :func:`mapping_pair_matrix`."""
    labelled = labelled_mask(y, mask)
    K, d = u.shape[0], u.shape[-1]
    used = K - 1 if sources is None else min(sources, K - 1)
    if used < 1:
        raise ValueError(f"sources must be at least 1 (None: every source), got {sources}")
    picks = [torch.randperm(K - 1, device=u.device)[:used] for _ in range(K)] if used < K - 1 else None
    source = u.detach() if detach_sources else u
    molecules = [labelled[:, t].nonzero(as_tuple=True)[0] for t in range(K)]
    blocks = []
    for t, mol in enumerate(molecules):
        x = source[:, mol]  # [K, L_t, d]: every source's LF points of target t's molecules
        x = torch.cat([x[:t], x[t + 1:]])  # the sources a != t, in order
        blocks.append((x if picks is None else x[picks[t]]).reshape(-1, d))
    predictions = predict_by_target(blocks)
    zero = u.new_zeros(1)
    columns = []
    for t, (mol, pred) in enumerate(zip(molecules, predictions)):
        error = (pred.reshape(used, len(mol)) - y[mol, t]).pow(2)
        mse = error.sum(dim=1) / max(len(mol), 1)  # [used]
        if picks is not None:
            mse = mse.new_zeros(K - 1).index_copy(0, picks[t], mse * ((K - 1) / used))
        columns.append(torch.cat([mse[:t], zero, mse[t:]]))
    return torch.stack(columns, dim=1)  # P[a, t]
