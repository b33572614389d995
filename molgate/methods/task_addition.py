r"""Adding a task to a frozen GATE (gate-spec section 7): what is trained and what is cached.

The new task n gets a single-task :class:`GATEModel` (encoder, Transfer, Inverse, Head); its
encoder starts from the pre-trained trunk **[ours]**. Only these modules are trained, with

.. math::

    l_{reg} + \alpha l_{auto} + \frac{1}{K} \sum_{a \in \text{frozen}}
    \left(\beta C[a, n] + \gamma P[a, n] + \delta D[a, n]\right)

the GATE loss of :mod:`molgate.methods.gate_losses` over the K + 1 tasks with transfer ratio 1
for every frozen source a -> n and 0 elsewhere (pairs among frozen tasks have no gradient to give).
The frozen tasks see the same perturbations as the new one (the same standard-normal draws, each
scaled by its own embedding's spread).

Caching: the frozen parts never change, so whatever of them does not depend on the random
perturbations is computed once per molecule before training (:func:`frozen_context`). Without
perturbations (``distance_form="batch"``, or no distance term) that is everything the loss needs
of them: their LF points, so a training step runs no frozen module at all (``context_kind="lf"``).
With perturbations, a ``trunk`` part caches its shared D-MPNN embedding (the expensive message
passing) and its per-task MLPs, which the perturbed copies must go through, run per batch; a
``separate`` part perturbs per-bond states inside its message passing, so it runs (without
gradients) on every batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from molgate.featurize.batching import GraphBatch, GraphDataset, make_loader
from molgate.methods.base import PropertyModel
from molgate.methods.extended_gate import ExtendedGATEModel, gate_parts
from molgate.methods.gate import GATEModel, GateConfig
from molgate.methods.gate_losses import loss_terms


def new_task_part(frozen: GATEModel | ExtendedGATEModel, gate: GateConfig | None = None,
                  init_encoder: str = "pretrained") -> GATEModel:
    """A single-task GATE shaped like the frozen model, its encoder copied from the pre-trained one.

    ``init_encoder="pretrained"`` copies the base model's shared trunk (``trunk`` sharing); a
    ``separate`` base and ``"random"`` leave the usual random initialisation.
    """
    if init_encoder not in ("pretrained", "random"):
        raise ValueError("init_encoder must be 'pretrained' or 'random'")
    base = gate_parts(frozen)[0]
    new = GATEModel(1, base.d_v, base.d_e, base.config, gate or base.gate)
    if init_encoder == "pretrained" and base.gate.sharing == "trunk" and new.gate.sharing == "trunk":
        new.trunk.load_state_dict(base.trunk.state_dict())
    return new


@torch.no_grad()
def cached_embeddings(frozen: GATEModel | ExtendedGATEModel, graphs, batch_size: int = 256
                      ) -> np.ndarray | None:
    """``[N, P * d_h]``: the trunk embedding of every frozen ``trunk`` part, per molecule
    (None if no part can be cached)."""
    parts = [p for p in gate_parts(frozen) if p.gate.sharing == "trunk"]
    if not parts or not graphs:
        return None
    frozen.eval()
    chunks = []
    for batch in make_loader(GraphDataset(graphs), batch_size):
        chunks.append(torch.cat([p.trunk(batch.bmg) for p in parts], dim=1).numpy())
    return np.concatenate(chunks)


@torch.no_grad()
def cached_lf_points(frozen: GATEModel | ExtendedGATEModel, graphs, batch_size: int = 256) -> np.ndarray:
    """``[N, K * d_lf]``: every frozen task's point in the LF frame, per molecule."""
    frozen.eval()
    chunks = []
    for batch in make_loader(GraphDataset(graphs), batch_size):
        u = torch.cat([p.lf_points(batch.bmg)[1] for p in gate_parts(frozen)])  # [K, B, d_lf]
        chunks.append(u.transpose(0, 1).reshape(u.shape[1], -1).numpy())
    return np.concatenate(chunks)


def frozen_context(frozen: GATEModel | ExtendedGATEModel, new: GATEModel, graphs,
                   batch_size: int = 256) -> tuple[np.ndarray | None, str]:
    """``(per-molecule cache, kind)``: the frozen LF points (``"lf"``) when the new task's loss
    draws no perturbation, else the trunk embeddings (``"trunk"``, see :func:`cached_embeddings`)."""
    if not graphs:
        return None, "trunk"
    if not new.gate.weights.needs_perturbations:
        return cached_lf_points(frozen, graphs, batch_size), "lf"
    return cached_embeddings(frozen, graphs, batch_size), "trunk"


class TaskAdditionModel(PropertyModel):
    """The training view: a frozen GATE and the new task's part; predicts the new task only."""

    method = "gate-task-addition"

    def __init__(self, frozen: GATEModel | ExtendedGATEModel, new: GATEModel, context_kind: str = "trunk"):
        super().__init__(1, new.d_v, new.d_e, new.config)
        if context_kind not in ("trunk", "lf"):
            raise ValueError("context_kind must be 'trunk' or 'lf'")
        self.context_kind = context_kind
        self.frozen = frozen.requires_grad_(False).eval()
        self.new = new
        self.scaler = new.scaler  # fitted on the new task's training labels
        k = frozen.n_tasks
        ratios = torch.zeros(k + 1, k + 1)
        ratios[:k, k] = 1.0  # every frozen source -> the new target
        self.register_buffer("transfer_ratios", ratios)

    def train(self, mode: bool = True) -> "TaskAdditionModel":
        super().train(mode)
        self.frozen.eval()  # frozen means frozen: no dropout, no batch statistics
        return self

    def forward(self, bmg) -> Tensor:
        return self.new(bmg)

    def _frozen_views(self, batch: GraphBatch, noise: Tensor | None) -> tuple[Tensor, Tensor | None]:
        parts = gate_parts(self.frozen)
        if batch.context is not None and self.context_kind == "lf" and noise is None:
            u = batch.context.reshape(batch.context.shape[0], self.frozen.n_tasks, -1)
            return u.transpose(0, 1), None
        embeddings: list[Tensor | None] = [None] * len(parts)
        if batch.context is not None and self.context_kind == "trunk":
            d_h = self.new.config.hidden_size
            trunk = [i for i, p in enumerate(parts) if p.gate.sharing == "trunk"]
            for j, i in enumerate(trunk):
                embeddings[i] = batch.context[:, j * d_h:(j + 1) * d_h]
        with torch.no_grad():
            views = [p.lf_views(batch.bmg, noise, e) for p, e in zip(parts, embeddings)]
        u = torch.cat([v[0] for v in views])
        return u, (torch.cat([v[1] for v in views]) if noise is not None else None)

    def loss_terms(self, batch: GraphBatch) -> tuple[dict[str, Tensor], dict[str, float]]:
        new, weights = self.new, self.new.gate.weights
        e = new.shared_embedding(batch.bmg)
        noise = new.perturbation_noise(e, new.gate.perturb_count if weights.needs_perturbations else 0)
        u_old, u_old_pert = self._frozen_views(batch, noise)
        z_all = new.perturbed_latents(batch.bmg, e, noise)  # [1, 1 + M, B, d_z]
        u_all = new.transfer(z_all)
        z, u = z_all[:, 0], u_all[:, 0]
        b, k = batch.y.shape[0], self.frozen.n_tasks
        pad = batch.y.new_zeros(b, k)
        pred = torch.cat([pad, new.predict_from_latent(z)], dim=1)
        y = torch.cat([pad, batch.y], dim=1)
        mask = torch.cat([torch.zeros_like(pad, dtype=torch.bool), batch.mask], dim=1)

        def predict_from_lf(x: Tensor, targets: Tensor) -> Tensor:
            # Only target n is labelled, and the new part has one task: every chunk goes through
            # its modules as one block of rows (no per-chunk weight gather, whose backward is slow).
            return new.map_to_target(x.reshape(1, -1, x.shape[-1]), None).reshape(x.shape[:-1])

        terms = loss_terms(pred, y, z=z, z_rec=new.inverse(u), u=torch.cat([u_old, u]),
                           u_pert=torch.cat([u_old_pert, u_all[:, 1:]]) if noise is not None else None,
                           predict_from_lf=predict_from_lf, mask=mask,
                           transfer_ratios=self.transfer_ratios, weights=weights, reduction=self.reduction)
        return terms, {"reg": 1.0, **weights.active()}

    def parameter_groups(self) -> dict[str, list]:
        return self.new.parameter_groups()


__all__ = ["TaskAdditionModel", "cached_embeddings", "cached_lf_points", "frozen_context", "new_task_part"]
