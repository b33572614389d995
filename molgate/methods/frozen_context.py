r"""The frozen side of a task addition, computed once: what the loss needs of the frozen parts.

**Perturbations** (``perturbations``). ``"bank"`` (the default, **[ours]**): every molecule has a
fixed bank of M standard-normal draws, the same in every epoch, and a frozen part scales them by
the spread of its embedding over the new task's training molecules (a fixed number, as the part
is frozen). ``"per_step"`` (the earlier path): fresh draws on every step, every part scaled by its
batch spread. The new part always scales its draws by its own batch spread, as in GATE training.

**Caching** (:func:`frozen_context`): the frozen parts never change, so whatever of them the loss
needs is computed once per molecule before training and travels with the batch.

* ``"bank"``: the bank, every frozen task's LF point ``u_a`` and its distances to its M perturbed
  points ``s_a^i = ||u_a(x) - u_a(x^i)||`` (all the distance term needs of a source). A training
  step runs no frozen module; the loss is that of the same draws computed without the cache
  (``"bank-noise"``, which carries the bank alone and runs the frozen parts on every batch).
* ``"lf"``: without perturbations (``distance_form="batch"``, or no distance term) the frozen LF
  points are everything.
* ``"trunk"`` (per-step draws): a ``trunk`` part caches its D-MPNN embedding and runs its MLPs on
  every batch; a ``separate`` part perturbs per-bond states inside its message passing, so it
  runs whole (without gradients) on every batch and has no bank.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from molgate.featurize.batching import GraphDataset, make_loader
from molgate.methods.extended_gate import ExtendedGATEModel, gate_parts
from molgate.methods.gate import GATEModel
from molgate.methods.gate_losses import perturbation_distances

PERTURBATIONS = ("bank", "per_step")
CONTEXT_KINDS = ("trunk", "lf", "bank", "bank-noise")


def _batches(graphs, batch_size: int, context: np.ndarray | None = None):
    return make_loader(GraphDataset(graphs, context=context), batch_size)


@torch.no_grad()
def cached_embeddings(frozen: GATEModel | ExtendedGATEModel, graphs, batch_size: int = 256
                      ) -> np.ndarray | None:
    """``[N, P * d_h]``: the trunk embedding of every frozen ``trunk`` part, per molecule
    (None if no part can be cached)."""
    parts = [p for p in gate_parts(frozen) if p.gate.sharing == "trunk"]
    if not parts or not graphs:
        return None
    frozen.eval()
    chunks = [torch.cat([p.trunk(b.bmg) for p in parts], dim=1).numpy() for b in _batches(graphs, batch_size)]
    return np.concatenate(chunks)


@torch.no_grad()
def cached_lf_points(frozen: GATEModel | ExtendedGATEModel, graphs, batch_size: int = 256) -> np.ndarray:
    """``[N, K * d_lf]``: every frozen task's point in the LF frame, per molecule."""
    frozen.eval()
    chunks = []
    for batch in _batches(graphs, batch_size):
        u = torch.cat([p.lf_points(batch.bmg)[1] for p in gate_parts(frozen)])  # [K, B, d_lf]
        chunks.append(u.transpose(0, 1).reshape(u.shape[1], -1).numpy())
    return np.concatenate(chunks)


def bank_applies(frozen: GATEModel | ExtendedGATEModel, new: GATEModel) -> bool:
    """A per-molecule bank needs one embedding vector per molecule: every part shares a trunk."""
    return all(p.gate.sharing == "trunk" for p in [*gate_parts(frozen), new])


def perturbation_bank(n: int, count: int, size: int, seed: int = 0) -> np.ndarray:
    """``[n, count * size]``: ``count`` fixed standard-normal draws of a ``size`` vector per molecule."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, count * size, generator=generator).numpy()


@torch.no_grad()
def frozen_scales(frozen: GATEModel | ExtendedGATEModel, graphs, batch_size: int = 256,
                  embeddings: np.ndarray | None = None) -> Tensor:
    """``[P, d_h]``: each frozen part's perturbation scale, ``sigma * std(e)`` over ``graphs`` of its
    trunk embedding e (``correction=0``; ``embeddings``: :func:`cached_embeddings`, if at hand): the
    fixed counterpart of the batch spread of :meth:`GATEModel.perturb`, which a frozen part's
    cached views cannot follow."""
    parts = gate_parts(frozen)
    e = torch.from_numpy(cached_embeddings(frozen, graphs, batch_size) if embeddings is None else embeddings)
    sigma = torch.tensor([p.gate.perturb_scale for p in parts], dtype=e.dtype).unsqueeze(1)
    return sigma * e.reshape(e.shape[0], len(parts), -1).std(dim=0, correction=0)


def frozen_bank_views(frozen: GATEModel | ExtendedGATEModel, bmg, noise: Tensor, scales: Tensor,
                      embeddings: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``(u [K, B, d_lf], s [K, M, P])``: the frozen LF points and the distances to the points of the
    perturbed embeddings ``e[:P] + noise * scales[part]`` (``noise [M, P, d_h]``, the batch's first
    P molecules), without gradients. ``embeddings [B, parts * d_h]``: the parts' trunk embeddings,
    if already computed."""
    us, distances = [], []
    parts = gate_parts(frozen)
    with torch.no_grad():
        for i, (part, scale) in enumerate(zip(parts, scales)):
            e = part.trunk(bmg) if embeddings is None else embeddings.reshape(len(embeddings), len(parts), -1)[:, i]
            u = part.transfer(part.encode(bmg, e.unsqueeze(0)))[:, 0]
            u_pert = part.transfer(part.encode(bmg, e[:noise.shape[1]] + noise * scale))
            us.append(u)
            distances.append(perturbation_distances(u, u_pert))
    return torch.cat(us), torch.cat(distances)


@torch.no_grad()
def cached_bank(frozen: GATEModel | ExtendedGATEModel, graphs, bank: np.ndarray, scales: Tensor,
                count: int, batch_size: int = 256, embeddings: np.ndarray | None = None) -> np.ndarray:
    """``[N, K * d_lf + K * M]``: per molecule, every frozen task's LF point, then its M distances
    (:func:`frozen_bank_views` of the molecule's ``count`` draws in ``bank``)."""
    frozen.eval()
    width = bank.shape[1]
    rows = bank if embeddings is None else np.hstack([bank, embeddings])
    chunks = []
    for batch in _batches(graphs, batch_size, rows):
        b, context = batch.context.shape[0], batch.context
        noise = context[:, :width].reshape(b, count, -1).transpose(0, 1)
        u, s = frozen_bank_views(frozen, batch.bmg, noise, scales, context[:, width:] if embeddings is not None else None)
        chunks.append(torch.cat([u.transpose(0, 1).reshape(b, -1), s.permute(2, 0, 1).reshape(b, -1)], 1).numpy())
    return np.concatenate(chunks)


class FrozenContext(NamedTuple):
    """What :func:`frozen_context` prepared: per-molecule rows for ``GraphDataset(context=...)``,
    how :class:`TaskAdditionModel` reads them, and the frozen parts' fixed scales (bank kinds)."""

    values: np.ndarray | None
    kind: str
    scales: Tensor | None = None


def frozen_context(frozen: GATEModel | ExtendedGATEModel, new: GATEModel, graphs, batch_size: int = 256,
                   perturbations: str = "bank", cache: bool = True, seed: int = 0,
                   train_trunk: bool = True) -> FrozenContext:
    """The per-molecule context of the training molecules ``graphs`` (module docstring), with the
    new part's own trunk embedding as its last ``d_h`` columns when its trunk is not trained."""
    context = _frozen_context(frozen, new, graphs, batch_size, perturbations, cache, seed)
    if train_trunk or not graphs:
        return context
    own = cached_embeddings(new, graphs, batch_size)
    values = own if context.values is None else np.hstack([context.values, own])
    return FrozenContext(values, context.kind, context.scales)


def _frozen_context(frozen: GATEModel | ExtendedGATEModel, new: GATEModel, graphs, batch_size: int,
                    perturbations: str, cache: bool, seed: int) -> FrozenContext:
    """What the frozen parts contribute to the context:

    * no perturbation in the loss: the frozen LF points (``"lf"``);
    * ``perturbations="bank"`` (``trunk`` parts only): the bank, the frozen LF points and
      distances (``"bank"``), or with ``cache=False`` the bank alone (``"bank-noise"``);
    * else per-step draws: the frozen trunk embeddings (``"trunk"``, :func:`cached_embeddings`).

    ``cache=False`` leaves out everything the frozen parts would compute (the slow reference path).
    """
    if perturbations not in PERTURBATIONS:
        raise ValueError(f"perturbations must be one of {PERTURBATIONS}, got {perturbations!r}")
    if not graphs:
        return FrozenContext(None, "trunk")
    if not new.gate.weights.needs_perturbations:
        return FrozenContext(cached_lf_points(frozen, graphs, batch_size), "lf") if cache else FrozenContext(None, "trunk")
    if perturbations == "bank" and bank_applies(frozen, new):
        count = new.gate.perturb_count
        bank = perturbation_bank(len(graphs), count, new.embedding_width, seed)
        embeddings = cached_embeddings(frozen, graphs, batch_size)  # once, for the scales and the views
        scales = frozen_scales(frozen, graphs, batch_size, embeddings)
        if not cache:
            return FrozenContext(bank, "bank-noise", scales)
        cached = cached_bank(frozen, graphs, bank, scales, count, batch_size, embeddings)
        return FrozenContext(np.hstack([bank, cached]), "bank", scales)
    return FrozenContext(cached_embeddings(frozen, graphs, batch_size) if cache else None, "trunk")


__all__ = ["CONTEXT_KINDS", "PERTURBATIONS", "FrozenContext", "bank_applies", "cached_bank", "cached_embeddings",
           "cached_lf_points", "frozen_bank_views", "frozen_context", "frozen_scales", "perturbation_bank"]
