r"""GATE: per-task encoders aligned in one locally flat (LF) frame (gate-spec sections 1-5).

For every task k (all as one batched computation, no Python loop over tasks):

.. math::

    z_k = \mathrm{Encoder}_k(x), \quad u_k = \mathrm{Transfer}_k(z_k), \quad
    \hat z_k = \mathrm{Inverse}_k(u_k), \quad \hat y_k = \mathrm{Head}_k(z_k)

and the loss ``L = l_reg + alpha l_auto + beta l_cons + gamma l_map + delta l_dis`` of
:mod:`molgate.methods.gate_losses`, with the pair terms weighted by the transfer ratios
``lambda[a, t]`` (all ones by default; a buffer, so later steps can learn it).

Encoder sharing (spec section 4, **[ours]**):

* ``separate``: each task has its own D-MPNN (``BatchedBondMessagePassing``) over a *shared* input
  projection ``h0 = W_i(x_src || e)``, followed by a per-task MLP. The shared embedding, where the
  perturbations are applied, is ``h0``. ``task_hidden_size`` narrows every task's D-MPNN: the
  cost of a message-passing step grows with its width squared, so K narrow encoders can cost
  about what one wide shared one does.
* ``trunk``: one shared D-MPNN gives the molecule vector ``h``; each task has its own MLP encoder on
  top. The shared embedding is ``h``, so perturbing it costs K small MLPs, not K message passings.

Perturbations (spec section 3, **[ours]**): ``M`` copies ``e + eps``, ``eps ~ N(0, (sigma *
std_batch(e))^2)`` of the shared embedding ``e`` (batch std detached), the same for every task;
with ``perturb_molecules = P`` only of the batch's first P molecules, the std still over
the whole batch.

``perturb_at = "molecule"`` (separate, **[ours]**, a cheaper distance term): instead of ``h0``,
each task's molecule vector ``h_k`` (its D-MPNN's output) is perturbed, ``h_k + xi *
sigma * std_batch(h_k)``, with the *same* standard-normal draws ``xi`` for every task. The M copies
then pass through the per-task encoder MLPs only, not through M more message passings: the
distance term compares the local geometry of ``Transfer_k o Encoder_k`` around each molecule.

The latents travel as one block of rows ``[K, B + M P, d]``
(:func:`~molgate.nn.gate_modules.perturbed_rows`), so Transfer runs once on all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from chemprop.data.collate import BatchMolGraph
from torch import Tensor

from molgate.featurize.batching import GraphBatch
from molgate.methods.base import EncoderConfig, PropertyModel
from molgate.methods.gate_losses import (GateLossWeights, autoencoding_loss, loss_terms,
                                         pair_terms_matrix)
from molgate.methods.regression import regression_loss
from molgate.nn.dmpnn import MoleculeEncoder
from molgate.nn.gate_modules import TaskMLPs, perturbed_rows, split_rows
from molgate.nn.message_passing.batched import BatchedBondMessagePassing
from molgate.nn.mlp import BatchedMLP

SHARING = ("separate", "trunk")
PERTURB_AT = ("input", "molecule")


@dataclass
class GateConfig:
    """GATE's own settings; everything marked [ours] in the spec is one of these."""

    sharing: str = "trunk"
    latent_size: int = 300  # d_z
    lf_size: int = 300  # d_lf, the shared locally flat frame
    encoder_layers: int = 1  # hidden layers of the per-task encoder MLP
    transfer_layers: int = 1  # hidden layers of Transfer and Inverse
    perturb_scale: float = 0.05  # sigma
    perturb_count: int = 4  # M
    weights: GateLossWeights = field(default_factory=GateLossWeights)
    task_hidden_size: int | None = None  # separate: each task's D-MPNN width (None: hidden_size)
    perturb_molecules: int | None = None  # P: perturb only a batch's first P molecules (None: all)
    perturb_at: str = "input"  # separate: "input" (h0, M more message passings) or "molecule" (h_k)

    def __post_init__(self):
        if self.sharing not in SHARING:
            raise ValueError(f"sharing must be one of {SHARING}, got {self.sharing!r}")
        if isinstance(self.weights, dict):
            # a config saved before the scale-free form existed was trained with the raw one
            self.weights = GateLossWeights(**{"form": "raw", **self.weights})
        if self.perturb_count < 1 and self.weights.needs_perturbations:
            raise ValueError("the distance loss needs perturb_count >= 1")
        if self.perturb_molecules is not None:
            if self.perturb_molecules < 1:
                raise ValueError(f"perturb_molecules must be at least 1 (None: every molecule), "
                                 f"got {self.perturb_molecules}")
            if self.sharing != "trunk" and self.perturb_at != "molecule":
                raise ValueError("perturb_molecules needs trunk sharing or perturb_at='molecule': separate "
                                 "encoders otherwise perturb per-bond states, not molecules")
        if self.perturb_at not in PERTURB_AT:
            raise ValueError(f"perturb_at must be one of {PERTURB_AT}, got {self.perturb_at!r}")
        if self.perturb_at == "molecule" and self.sharing != "separate":
            raise ValueError("perturb_at='molecule' is for separate sharing: trunk sharing already "
                             "perturbs the molecule vector")

    def to_dict(self) -> dict:
        """The settings; ``perturb_molecules`` and ``perturb_at`` only when set, so the config (and
        the fingerprint) of a model saved before those fields existed is unchanged."""
        d = asdict(self)
        if d["perturb_molecules"] is None:
            del d["perturb_molecules"]
        if d["perturb_at"] == "input":
            del d["perturb_at"]
        return d


class GATEModel(PropertyModel):
    method = "gate"

    def __init__(self, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig | None = None,
                 gate: GateConfig | None = None):
        config = config or EncoderConfig()
        super().__init__(n_tasks, d_v, d_e, config)
        self.gate = gate = gate or GateConfig()
        d_h = config.hidden_size
        if gate.sharing == "separate":
            d_h = gate.task_hidden_size or d_h
            if config.aggregation != "mean":
                raise ValueError("separate GATE encoders use mean aggregation")
            self.message_passing = BatchedBondMessagePassing(
                n_tasks, d_v, d_e, d_h, config.depth, config.dropout, shared_input=True)
        else:
            self.trunk = MoleculeEncoder(d_v, d_e, d_h, config.depth, config.dropout, config.aggregation)
        self.embedding_width = d_h if gate.sharing == "separate" else self.trunk.output_dim
        self.encoder_mlp = BatchedMLP(n_tasks, self.embedding_width, gate.latent_size, gate.latent_size,
                                      gate.encoder_layers, config.dropout)
        self.transfer = BatchedMLP(n_tasks, gate.latent_size, gate.lf_size, gate.lf_size,
                                   gate.transfer_layers, config.dropout)
        self.inverse = BatchedMLP(n_tasks, gate.lf_size, gate.lf_size, gate.latent_size,
                                  gate.transfer_layers, config.dropout)
        self.head = BatchedMLP(n_tasks, gate.latent_size, config.ffn_hidden_size, 1,
                               config.ffn_layers, config.dropout)
        self.register_buffer("transfer_ratios", torch.ones(n_tasks, n_tasks))

    # ------------------------------------------------------------------ encoding
    def shared_embedding(self, bmg: BatchMolGraph) -> Tensor:
        """``h0`` per directed bond (separate) or the molecule vector (trunk)."""
        if self.gate.sharing == "separate":
            return self.message_passing.initial(bmg)
        return self.trunk(bmg)

    @staticmethod
    def perturbation_noise(e: Tensor, count: int) -> Tensor | None:
        """Standard-normal draws ``[count, *e.shape]`` (None for no perturbation)."""
        return torch.randn(count, *e.shape, device=e.device, dtype=e.dtype) if count else None

    def perturbation_offsets(self, e: Tensor, noise: Tensor) -> Tensor:
        """``noise [M, *e.shape]`` (standard normal) scaled by the detached batch spread of ``e``."""
        # correction=0: a batch of one molecule gets no noise instead of a NaN scale
        return noise * (self.gate.perturb_scale * e.detach().std(dim=0, correction=0, keepdim=True))

    def perturb(self, e: Tensor, noise: Tensor) -> Tensor:
        """``[M, *e.shape]`` noisy copies of ``e`` from standard-normal ``noise [M, *e.shape]``
        (:meth:`perturbation_noise`), scaled by the batch spread of ``e``. The noise is an argument
        so several models share the same perturbations, as the frozen and the new tasks do in
        task addition."""
        return e.unsqueeze(0) + self.perturbation_offsets(e, noise)

    def perturbed_part(self, e: Tensor) -> Tensor:
        """The rows of the shared embedding that get perturbed copies: the first P molecules'."""
        p = self.gate.perturb_molecules  # set only with trunk sharing or perturb_at molecule (GateConfig)
        return e if p is None else e[:p]

    @property
    def perturbs_molecules(self) -> bool:
        """Separate encoders perturbing each task's molecule vector (``perturb_at = "molecule"``)."""
        return self.gate.perturb_at == "molecule"

    def draw_noise(self, bmg: BatchMolGraph, e: Tensor, count: int) -> Tensor | None:
        """This step's standard-normal draws for :meth:`latent_rows`: ``[M, P, d_h]`` for the
        first P molecules, or (separate, ``perturb_at = "input"``) ``[M, n_bonds, d_h]`` for h0."""
        if not count:
            return None
        if self.perturbs_molecules:
            b = len(bmg) if self.gate.perturb_molecules is None else min(len(bmg), self.gate.perturb_molecules)
            return torch.randn(count, b, self.message_passing.d_h, device=e.device, dtype=e.dtype)
        return self.perturbation_noise(self.perturbed_part(e), count)

    def latent_rows(self, bmg: BatchMolGraph, e: Tensor, noise: Tensor | None) -> tuple[Tensor, int]:
        """``(z [K, B + M P, d_z], B)``: the latents of the B molecules, then of the perturbed
        copies of the first P (``noise [M, P, ...]``, standard normal; split with
        :func:`~molgate.nn.gate_modules.split_rows`).

        Trunk: ``Encoder_k(e + o_i)`` with the first layer split as ``W e + W o_i``
        (:func:`~molgate.nn.gate_modules.perturbed_rows`), the same function as
        ``encode(bmg, cat([e, perturb(e, noise)]))`` with a cheaper backward pass into the trunk.
        Separate without perturbed ``h0`` (no noise, or ``perturb_at = "molecule"``): ``e`` is not
        read; the D-MPNNs compute ``h0`` once per environment themselves."""
        if self.gate.sharing == "trunk" and e.dim() == 2:
            offsets = None if noise is None else self.perturbation_offsets(e, noise)
            return perturbed_rows(self.encoder_mlp, e, offsets), e.shape[0]
        if self.gate.sharing == "separate" and (noise is None or self.perturbs_molecules):
            # nothing perturbed per bond: the D-MPNNs compute h0 themselves, once per environment
            h = self.message_passing.encode(bmg)  # [K, B, d_h]
            if noise is None:
                return self.encoder_mlp(h), h.shape[1]
            # the same draws for every task, scaled by each task's detached batch spread
            scale = self.gate.perturb_scale * h.detach().std(dim=1, correction=0, keepdim=True)
            h_pert = h[:, :noise.shape[1]].unsqueeze(1) + noise.unsqueeze(0) * scale.unsqueeze(1)
            z, z_pert = self.encoder_mlp(h), self.encoder_mlp(h_pert)  # [K, B, d_z], [K, M, P, d_z]
            return torch.cat([z, z_pert.flatten(1, 2)], dim=1), h.shape[1]
        stacked = e.unsqueeze(0) if noise is None else torch.cat([e.unsqueeze(0), self.perturb(e, noise)])
        z = self.encode(bmg, stacked)  # [K, 1 + M, B, d_z]
        return z.reshape(z.shape[0], -1, z.shape[-1]), z.shape[2]

    def encode(self, bmg: BatchMolGraph, e: Tensor) -> Tensor:
        """Task latents ``z [K, *S, B, d_z]`` from a shared embedding ``e [*S, ...]``."""
        if self.gate.sharing == "separate":
            h = self.message_passing.encode(bmg, e)  # [K, *S, B, d_h]
        else:
            h = e.unsqueeze(0).expand(self.n_tasks, *e.shape)
        return self.encoder_mlp(h)

    def predict_from_latent(self, z: Tensor) -> Tensor:
        """``Head_k(z_k)``: ``[K, B, d_z] -> [B, K]``."""
        return self.head(z).squeeze(-1).transpose(0, 1)

    def forward(self, bmg: BatchMolGraph) -> Tensor:
        return self.predict_from_latent(self.latents(bmg))

    def latents(self, bmg: BatchMolGraph) -> Tensor:
        """``z [K, B, d_z]``; ``self.transfer(z)`` gives the LF points ``u``."""
        if self.gate.sharing == "separate":  # h0 computed inside, once per environment
            return self.encoder_mlp(self.message_passing.encode(bmg))
        return self.encode(bmg, self.shared_embedding(bmg))

    def lf_points(self, bmg: BatchMolGraph) -> tuple[Tensor, Tensor]:
        """``(z [K, B, d_z], u [K, B, d_lf])``: task latents and their points in the LF frame."""
        z = self.latents(bmg)
        return z, self.transfer(z)

    def lf_views(self, bmg: BatchMolGraph, noise: Tensor | None = None,
                 embedding: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """LF points ``u [K, B, d_lf]`` and, given ``noise [M, P, ...]`` (standard normal, for the
        first P molecules), those of the perturbed inputs ``u_pert [K, M, P, d_lf]``.
        ``embedding`` is a precomputed shared embedding."""
        e = self.shared_embedding(bmg) if embedding is None else embedding
        z_rows, b = self.latent_rows(bmg, e, noise)
        return split_rows(self.transfer(z_rows), b, 0 if noise is None else noise.shape[0])

    # ------------------------------------------------------------------ training
    def _terms(self, batch: GraphBatch) -> dict:
        """Everything the active losses need, from one pass over the batch."""
        weights = self.gate.weights
        active = weights.active()
        e = self.shared_embedding(batch.bmg)
        m = self.gate.perturb_count if weights.needs_perturbations else 0
        noise = self.draw_noise(batch.bmg, e, m)
        z_rows, b = self.latent_rows(batch.bmg, e, noise)  # [K, B + M P, d_z]
        z = z_rows[:, :b]
        needs_lf = bool({"auto", "cons", "map", "dis"} & set(active))
        u, u_pert = split_rows(self.transfer(z_rows), b, m) if needs_lf else (None, None)
        return dict(pred=self.predict_from_latent(z), z=z, u=u,
                    z_rec=self.inverse(u) if "auto" in active else None, u_pert=u_pert)

    def _ratios(self) -> Tensor | None:
        """lambda, or None when uniform (the O(K) forms then apply)."""
        return None if bool((self.transfer_ratios == 1).all()) else self.transfer_ratios

    def loss_terms(self, batch: GraphBatch) -> tuple[dict[str, Tensor], dict[str, float]]:
        t = self._terms(batch)
        terms = loss_terms(t["pred"], batch.y, z=t["z"], z_rec=t["z_rec"], u=t["u"], u_pert=t["u_pert"],
                           predict_from_lf=self.map_to_target, mask=batch.mask,
                           transfer_ratios=self._ratios(), weights=self.gate.weights,
                           reduction=self.reduction, predict_by_target=self.map_by_target)
        return terms, {"reg": 1.0, **self.gate.weights.active()}

    def parameter_groups(self) -> dict[str, list]:
        """``shared``: the D-MPNN every task reads (trunk, or separate's shared input projection
        and the stacked per-task D-MPNNs); ``encoders``: those plus the per-task encoder MLPs;
        ``transfer``: Transfer and Inverse."""
        shared = list((self.trunk if self.gate.sharing == "trunk" else self.message_passing).parameters())
        return {"shared": shared, "encoders": shared + list(self.encoder_mlp.parameters()),
                "transfer": list(self.transfer.parameters()) + list(self.inverse.parameters())}

    def loss_split(self, batch: GraphBatch) -> tuple[Tensor, Tensor]:
        """``(base, M)`` with ``base = l_reg + alpha l_auto`` and the pair matrix ``M [K, K]``:
        the training loss is ``base + sum(lambda * M)`` (see ``pair_terms_matrix``)."""
        t = self._terms(batch)
        w = self.gate.weights
        base = regression_loss(t["pred"], batch.y, batch.mask, self.reduction)
        if "auto" in w.active():
            base = base + w.alpha * autoencoding_loss(t["z"], t["z_rec"], w.form)
        pairs = pair_terms_matrix(t["u"], t["u_pert"], batch.y, self.map_to_target, batch.mask, w,
                                  self.map_by_target) \
            if t["u"] is not None else base.new_zeros(self.n_tasks, self.n_tasks)
        return base, pairs

    def extra_config(self) -> dict:
        return {"gate": self.gate.to_dict()}

    @classmethod
    def from_config(cls, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig, extra: dict) -> "GATEModel":
        return cls(n_tasks, d_v, d_e, config, GateConfig(**extra.get("gate", {})))

    def map_to_target(self, x: Tensor, targets: Tensor | None) -> Tensor:
        """``Head_t(Inverse_t(x[g]))`` with ``t = targets[g]``: LF points of every source for the
        labelled pairs of target t, through that target's modules (None: slice k through task k)."""
        return self.head(self.inverse(x, targets), targets).squeeze(-1)

    def map_by_target(self, xs: list[Tensor]) -> list[Tensor]:
        """``Head_t(Inverse_t(xs[t]))`` for every target t, ``xs[t] [R_t, d_lf] -> [R_t]``: each
        target's rows through its own modules, unpadded (:class:`~molgate.nn.gate_modules.TaskMLPs`)."""
        inverse, head = TaskMLPs(self.inverse), TaskMLPs(self.head)
        return [head(inverse(x, t), t).squeeze(-1) for t, x in enumerate(xs)]


class GatePairModel(GATEModel):
    """The ICLR setting: task 0 is the target, task 1 the source, and transfer runs one way.

    Both regressions are trained, but every pair term is source -> target only
    (``lambda = [[0, 0], [1, 0]]``) with the source's side detached, so the source's modules learn
    from its own labels alone and the target aligns its geometry to the source's.
    """

    method = "gate-pair"

    def __init__(self, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig | None = None,
                 gate: GateConfig | None = None):
        if n_tasks != 2:
            raise ValueError(f"gate-pair has one target and one source, got {n_tasks} tasks")
        gate = gate or GateConfig()
        gate = replace(gate, weights=replace(gate.weights, detach_sources=True))
        super().__init__(n_tasks, d_v, d_e, config, gate)
        with torch.no_grad():
            self.transfer_ratios.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))


def set_transfer_ratios(model: GATEModel, ratios: Tensor) -> None:
    with torch.no_grad():
        model.transfer_ratios.copy_(torch.as_tensor(ratios, dtype=model.transfer_ratios.dtype))


__all__ = ["GATEModel", "GatePairModel", "GateConfig", "SHARING", "set_transfer_ratios"]
