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

**Perturbations and caching** (``perturbations``, :func:`frozen_context`): see
:mod:`molgate.methods.frozen_context`.

**Pair terms in O(K)** with the frozen side fixed: C[a, n] by the variance identity around the
frozen points' mean, D[a, n] from the cached distances; neither needs a Gram matrix over the
K + 1 tasks nor a gradient into the frozen side.

**Mapping sources** (``map_sources``): P[a, n] sends every frozen source's LF points through the
new task's Inverse and Head, K times the rows of one task. ``map_sources = S < K`` uses S sources
drawn without replacement on each step, weighted K / S: an unbiased estimate of the same term.

**Aligned rows** (``align_molecules = A``, **[ours]**): the pair terms and l_auto are means over
the batch's molecules, so they are estimated on its first A molecules (a random subset, the batch
being shuffled; the perturbed ones among them); only l_reg sees every molecule. Transfer, Inverse
and the mapping's Head then run on A rows instead of B: with a trained trunk the new part's MLPs
are most of what an addition costs beyond STL.

**Stacked rows** (**[ours]**, speed): l_reg's Head(z_n), l_auto's Inverse(u_n) and the
mapping's Head(Inverse(u_a)) run as one Inverse and one Head call on the stacked rows, the same
function in fewer and larger matmuls.

**Frozen new trunk** (``train_trunk=False``, **[ours]**): the new part's trunk stays at the
pre-trained weights and its embedding is cached with the context; only its MLPs train.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from molgate.featurize.batching import GraphBatch
from molgate.methods.base import PropertyModel
from molgate.methods.extended_gate import ExtendedGATEModel, gate_parts
from molgate.methods.gate import GATEModel, GateConfig
from molgate.methods.frozen_context import CONTEXT_KINDS, frozen_bank_views
from molgate.methods.gate_losses import (has_spread, loss_terms, pair_normaliser, perturbation_distances,
                                         scaled_distances, spread)
from molgate.nn.gate_modules import split_rows

MOLECULE_PERTURBATIONS_UNSUPPORTED = ("task addition perturbs the shared input: a model trained with "
                                      "perturb_at='molecule' cannot take a new task yet")
_EPS = 1e-12  # all-zero ratios towards the new task keep the consistency centre finite


INIT_ENCODERS = ("pretrained", "random", "related")


def new_task_part(frozen: GATEModel | ExtendedGATEModel, gate: GateConfig | None = None,
                  init_encoder: str = "pretrained") -> GATEModel:
    """A single-task GATE shaped like the frozen model, its encoder copied from the pre-trained one.

    ``init_encoder="pretrained"`` (and ``"related"``, whose MLPs :func:`copy_task_modules` sets
    afterwards) copies the base model's shared trunk (``trunk`` sharing); a ``separate`` base and
    ``"random"`` leave the usual random initialisation.
    """
    if init_encoder not in INIT_ENCODERS:
        raise ValueError(f"init_encoder must be one of {INIT_ENCODERS}, got {init_encoder!r}")
    base = gate_parts(frozen)[0]
    new = GATEModel(1, base.d_v, base.d_e, base.config, gate or base.gate)
    if init_encoder != "random" and base.gate.sharing == "trunk" and new.gate.sharing == "trunk":
        new.trunk.load_state_dict(base.trunk.state_dict())
    return new


def check_align_molecules(align_molecules: int | None, gate: GateConfig) -> None:
    """Refuse ``align_molecules`` (ValueError) below 1, or not covering the molecules perturbed for
    the distance term (the perturbation distances are of the first P aligned rows)."""
    if align_molecules is None:
        return
    perturbed = gate.perturb_molecules if gate.weights.needs_perturbations else 0
    if align_molecules < 1 or perturbed is None or align_molecules < perturbed:
        raise ValueError(f"align_molecules ({align_molecules}) must be at least 1 and at least the perturbed "
                         f"molecules per batch (perturb_molecules={gate.perturb_molecules}) while the "
                         "distance term is on")


@torch.no_grad()
def copy_task_modules(frozen: GATEModel | ExtendedGATEModel, task: int, new: GATEModel, sign: float = 1.0) -> None:
    """Start the new part's trunk, Encoder, Transfer, Inverse and Head at frozen task ``task``'s
    (**[ours]**, ``init_encoder="related"``): the new task begins as that source's predictor, on its LF points.
    ``sign = -1`` negates the Head's output, for a source whose property falls as the new one rises."""
    offset = 0
    for part in gate_parts(frozen):
        if task < offset + part.n_tasks:
            break
        offset += part.n_tasks
    else:
        raise ValueError(f"task {task} is not in the frozen model ({offset} tasks)")
    local = task - offset
    if part.gate.sharing == "trunk" and new.gate.sharing == "trunk":  # an added part has its own trunk
        new.trunk.load_state_dict(part.trunk.state_dict())
    for name in ("encoder_mlp", "transfer", "inverse", "head"):
        for source, target in zip(getattr(part, name).layers, getattr(new, name).layers, strict=True):
            if source.weight.shape[1:] != target.weight.shape[1:]:
                raise ValueError(f"the new part's {name} ({tuple(target.weight.shape[1:])}) is not shaped like "
                                 f"the frozen task's ({tuple(source.weight.shape[1:])})")
            target.weight.copy_(source.weight[local:local + 1])
            target.bias.copy_(source.bias[local:local + 1])
    last = new.head.layers[-1]
    last.weight.mul_(sign)
    last.bias.mul_(sign)


class TaskAdditionModel(PropertyModel):
    """The training view: a frozen GATE and the new task's part; predicts the new task only.

    ``context_kind`` says what a training batch's context holds (:func:`frozen_context`);
    ``frozen_scales`` are needed for ``"bank-noise"``; ``map_sources`` (module docstring);
    ``diagnostics``: expose the new part's parameter groups, so the trainer logs the per-term
    gradient norms (:mod:`molgate.train.diagnostics`, one backward per term and group per epoch);
    ``source_ratios [K]``: lambda[a, n] of every frozen source (None: all 1;
    :mod:`molgate.methods.source_weights`); ``align_molecules`` (module docstring; None: every
    molecule).
    """

    method = "gate-task-addition"
    keeps_parts_in_eval = True

    def __init__(self, frozen: GATEModel | ExtendedGATEModel, new: GATEModel, context_kind: str = "trunk",
                 frozen_scales: Tensor | None = None, map_sources: int | None = None,
                 diagnostics: bool = True, train_trunk: bool = True, source_ratios: Tensor | None = None,
                 align_molecules: int | None = None):
        super().__init__(1, new.d_v, new.d_e, new.config)
        if context_kind not in CONTEXT_KINDS:
            raise ValueError(f"context_kind must be one of {CONTEXT_KINDS}, got {context_kind!r}")
        if context_kind == "bank-noise" and frozen_scales is None:
            raise ValueError("context_kind='bank-noise' runs the frozen parts on the bank: give frozen_scales")
        if map_sources is not None and map_sources < 1:
            raise ValueError("map_sources must be at least 1 (None: every frozen source)")
        check_align_molecules(align_molecules, new.gate)
        if not train_trunk and new.gate.sharing != "trunk":
            raise ValueError("train_trunk=False freezes the new part's trunk: it needs trunk sharing")
        if any(p.gate.perturb_at != "input" for p in (*gate_parts(frozen), new)):
            raise ValueError(MOLECULE_PERTURBATIONS_UNSUPPORTED)
        self.context_kind, self.map_sources, self.diagnostics = context_kind, map_sources, diagnostics
        self.train_trunk, self.align_molecules = train_trunk, align_molecules
        self.frozen = frozen.requires_grad_(False).eval()
        self.new = new
        if not train_trunk:
            new.trunk.requires_grad_(False)
        self.scaler = new.scaler  # fitted on the new task's training labels
        self.register_buffer("frozen_scales", frozen_scales)
        k = frozen.n_tasks
        ratios = torch.zeros(k + 1, k + 1)
        ratios[:k, k] = 1.0 if source_ratios is None else source_ratios  # frozen sources -> the new target
        self.register_buffer("transfer_ratios", ratios)

    def train(self, mode: bool = True) -> "TaskAdditionModel":
        super().train(mode)
        self.frozen.eval()  # frozen means frozen: no dropout, no batch statistics
        if not self.train_trunk:
            self.new.trunk.eval()
        return self

    def _own_embedding(self, batch: GraphBatch) -> tuple[Tensor, GraphBatch]:
        """The new part's trunk embedding, and the batch with the frozen parts' context alone: a
        frozen trunk's embedding is the context's last ``d_h`` columns (or is computed)."""
        if self.train_trunk:
            return self.new.shared_embedding(batch.bmg), batch
        if batch.context is None:
            with torch.no_grad():
                return self.new.shared_embedding(batch.bmg), batch
        d_h = self.new.embedding_width
        rest = batch.context[:, :-d_h] if batch.context.shape[1] > d_h else None
        return batch.context[:, -d_h:], batch._replace(context=rest)

    def forward(self, bmg) -> Tensor:
        return self.new(bmg)

    def _noise(self, batch: GraphBatch, e: Tensor) -> Tensor | None:
        """This step's standard-normal draws ``[M, P, d_h]`` for the batch's first P molecules
        (``GateConfig.perturb_molecules`` of the new part): the bank's, or fresh ones."""
        count = self.new.gate.perturb_count
        if not self.new.gate.weights.needs_perturbations:
            return None
        if self.context_kind in ("bank", "bank-noise"):
            if batch.context is None:
                raise ValueError("the perturbation bank travels in the batch context; none was given")
            b, d_h = batch.context.shape[0], e.shape[-1]
            noise = batch.context[:, :count * d_h].reshape(b, count, d_h).transpose(0, 1)
            return noise[:, :self.new.perturbed_part(e).shape[0]]
        return self.new.perturbation_noise(self.new.perturbed_part(e), count)

    def _frozen_views(self, batch: GraphBatch, noise: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """The frozen LF points ``u [K, B, d_lf]`` and, with ``noise [M, P, d_h]``, their
        perturbation distances ``s [K, M, P]``: from the batch's context where it holds them (the
        bank's distances are of every molecule: the first P are kept), else computed."""
        parts, context, k = gate_parts(self.frozen), batch.context, self.frozen.n_tasks
        if context is not None and self.context_kind == "lf" and noise is None:
            return context.reshape(context.shape[0], k, -1).transpose(0, 1), None
        if context is not None and self.context_kind == "bank":
            b, start = context.shape[0], noise.shape[0] * noise.shape[2]
            d_lf = parts[0].gate.lf_size
            u = context[:, start:start + k * d_lf].reshape(b, k, d_lf).transpose(0, 1)
            s = context[:noise.shape[1], start + k * d_lf:]
            return u, s.reshape(s.shape[0], k, noise.shape[0]).permute(1, 2, 0)
        if self.context_kind == "bank-noise":
            return frozen_bank_views(self.frozen, batch.bmg, noise, self.frozen_scales)
        embeddings: list[Tensor | None] = [None] * len(parts)
        if context is not None and self.context_kind == "trunk":
            d_h = self.new.embedding_width
            trunk = [i for i, p in enumerate(parts) if p.gate.sharing == "trunk"]
            for j, i in enumerate(trunk):
                embeddings[i] = context[:, j * d_h:(j + 1) * d_h]
        with torch.no_grad():
            views = [p.lf_views(batch.bmg, noise, e) for p, e in zip(parts, embeddings)]
        u = torch.cat([v[0] for v in views])
        return u, (perturbation_distances(u, torch.cat([v[1] for v in views])) if noise is not None else None)

    def _normaliser(self) -> float:
        return pair_normaliser(self.frozen.n_tasks + 1, self.new.gate.weights.pair_reduction)

    def _mapping_rows(self, u_old: Tensor, y: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
        """What ``(1/c_K) sum_a lambda[a, n] P[a, n]`` runs on: each frozen source's LF points of the
        labelled molecules ``x [S, L, d_lf]``, their labels ``[L]``, the ratios and weight; with
        ``map_sources`` S < K, S sources drawn on this step, weighted K / S (unbiased)."""
        k = u_old.shape[0]
        ratios = self.transfer_ratios[:k, k]
        weight = 1.0
        if self.map_sources is not None and self.map_sources < k:
            pick = torch.randperm(k, device=u_old.device)[:self.map_sources]
            u_old, ratios, weight = u_old[pick], ratios[pick], k / self.map_sources
        labelled = mask[:, 0]
        return u_old[:, labelled], y[labelled, 0], ratios, weight

    def _mapping_term(self, mapped: Tensor, y: Tensor, ratios: Tensor, weight: float) -> Tensor:
        """The term from the new task's Head(Inverse) of :meth:`_mapping_rows` ``mapped [S, L]``
        against the labels ``y [L]``."""
        per_source = (mapped - y).pow(2).mean(dim=1) if mapped.shape[1] else mapped.sum(dim=1)
        return weight * (ratios * per_source).sum() / self._normaliser()

    def _new_task_passes(self, z: Tensor, u: Tensor | None, x_map: Tensor | None
                         ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``Head(z) [B, 1]``, ``Inverse(u)`` and ``Head(Inverse(x_map))`` (x_map ``[S, L, d_lf]``
        -> ``[S, L]``) in one Inverse and one Head call on the stacked rows **[ours]**: the same
        function as separate calls, in fewer and larger matmuls (speed)."""
        new, b, n_u = self.new, z.shape[1], 0 if u is None else u.shape[1]
        x = None if x_map is None else x_map.reshape(1, -1, x_map.shape[-1])
        stacked = [t for t in (u, x) if t is not None]
        inverted = new.inverse(torch.cat(stacked, dim=1)) if stacked else None  # [1, n_u (+ S L), d_z]
        out = new.head(z if x is None else torch.cat([z, inverted[:, n_u:]], dim=1)).squeeze(-1)
        mapped = None if x is None else out[0, b:].reshape(x_map.shape[:2])
        return out[:, :b].transpose(0, 1), None if u is None else inverted[:, :n_u], mapped

    def _consistency_term(self, u_old: Tensor, u: Tensor) -> Tensor:
        """``(1/c_K) sum_a lambda[a, n] C[a, n]`` with ``C[a, n] = MSE(u_a, u_n) [/ Var(u_n)]``, by
        the variance identity around the frozen points' weighted mean c (exact, O(K) and without
        gradients on the frozen side): ``sum_a w_a |u_a - u_n|^2 = sum_a w_a |u_a - c|^2 + W |c - u_n|^2``."""
        k = u_old.shape[0]
        w = self.transfer_ratios[:k, k]
        total = w.sum()
        centre = (w.view(-1, 1, 1) * u_old).sum(dim=0) / total.clamp_min(_EPS)
        pairs = (w * (u_old - centre).pow(2).mean(dim=(1, 2))).sum() + total * (u[0] - centre).pow(2).mean()
        if self.new.gate.weights.form == "scale_free":
            if not has_spread(u):  # one molecule: no spread to measure C in (gate_losses)
                return pairs * 0.0
            pairs = pairs / spread(u)[0]
        return pairs / self._normaliser()

    def _distance_term(self, s: Tensor) -> Tensor:
        """``(1/c_K) sum_a lambda[a, n] D[a, n]`` from every task's perturbation distances
        ``s [K + 1, M, P]`` (the new task last): ``D[a, n] = MSE(s~_a, s~_n)``, each task's
        distances divided by their mean in the scale-free form."""
        s = scaled_distances(s, self.new.gate.weights.form)
        k = s.shape[0] - 1
        per_source = (s[:k] - s[k:]).pow(2).mean(dim=(1, 2))
        return (self.transfer_ratios[:k, k] * per_source).sum() / self._normaliser()

    def loss_terms(self, batch: GraphBatch) -> tuple[dict[str, Tensor], dict[str, float]]:
        new, weights = self.new, self.new.gate.weights
        active = weights.active()
        e, batch = self._own_embedding(batch)
        noise = self._noise(batch, e)
        u_old, s_old = self._frozen_views(batch, noise)
        z_rows, b = new.latent_rows(batch.bmg, e, noise)  # [1, B + M P, d_z]
        z = z_rows[:, :b]
        a = b if self.align_molecules is None else min(b, self.align_molecules)
        aligned = z_rows if a == b else torch.cat([z_rows[:, :a], z_rows[:, b:]], dim=1)  # [1, A + M P, d_z]
        u, u_pert = split_rows(new.transfer(aligned), a, 0 if noise is None else noise.shape[0])
        u_old = u_old[:, :a]
        mapping = self._mapping_rows(u_old, batch.y[:a], batch.mask[:a]) if "map" in active else None
        pred_new, z_rec, mapped = self._new_task_passes(z, u if "auto" in active else None,
                                                        None if mapping is None else mapping[0])
        pad = batch.y.new_zeros(batch.y.shape[0], self.frozen.n_tasks)
        pred = torch.cat([pad, pred_new], dim=1)
        y = torch.cat([pad, batch.y], dim=1)
        mask = torch.cat([torch.zeros_like(pad, dtype=torch.bool), batch.mask], dim=1)
        # reg, auto (and batch distances) as in GATE; cons, map and perturbation distances below
        shared = replace(weights, use_cons=False, use_map=False, use_dis=weights.use_dis and noise is None)
        terms = loss_terms(pred, y, z=z[:, :a], z_rec=z_rec, mask=mask,
                           u=torch.cat([u_old, u]) if shared.use_dis else None,
                           transfer_ratios=self.transfer_ratios, weights=shared, reduction=self.reduction)
        if "cons" in active:
            terms["cons"] = self._consistency_term(u_old, u)
        if mapping is not None:
            terms["map"] = self._mapping_term(mapped, *mapping[1:])
        if "dis" in active and noise is not None:
            terms["dis"] = self._distance_term(torch.cat([s_old, perturbation_distances(u, u_pert)]))
        return terms, {"reg": 1.0, **active}

    def parameter_groups(self) -> dict[str, list]:
        return self.new.parameter_groups() if self.diagnostics else {}


__all__ = ["INIT_ENCODERS", "MOLECULE_PERTURBATIONS_UNSUPPORTED", "TaskAdditionModel", "check_align_molecules",
           "copy_task_modules", "new_task_part"]
