r"""Learned transfer ratios: bi-level optimisation of lambda[source, target] (gate-spec section 6).

Inner problem: the model weights :math:`\theta` minimise the training loss
:math:`L_{tr}(\theta, \lambda) = b(\theta) + \sum_{a \ne t} \lambda_{at} M_{at}(\theta)`, where
``M`` is GATE's pair-term matrix (:func:`~molgate.methods.gate_losses.pair_terms_matrix`).
Outer problem: :math:`\lambda` minimises the validation regression loss
:math:`L_{val}(\theta^*(\lambda))`.

Hypergradient, one step unrolled **[ours]**. The model trains with Adam, whose step is not the
plain gradient: with the inner optimiser's second-moment state held fixed over one step,
:math:`P = \mathrm{diag}\left(1 / (\sqrt{\hat v} + \epsilon)\right)` (``preconditioner="adam"``,
:math:`\hat v` = ``exp_avg_sq`` with its bias correction; ``"sgd"``: P = I), the unrolled step is
:math:`\theta' = \theta - \eta P \nabla_\theta L_{tr}` and, with :math:`g' = \nabla_\theta L_{val}(\theta')`,

.. math::

    \frac{\partial L_{val}(\theta')}{\partial \lambda_{at}}
      = -\eta\, (P g')^\top \nabla_\theta M_{at}(\theta)
      = -\eta\, [J_M(\theta)\, (P g')]_{at}

so all K^2 entries are one Jacobian-vector product of ``M`` along :math:`P g'`: one forward-mode
pass (``torch.func.jvp``, ``method="jvp"``), or the central difference
:math:`(M(\theta + \epsilon P g') - M(\theta - \epsilon P g')) / 2\epsilon` (two forward passes,
``method="finite-difference"``). :math:`L_{val}` is the mean over ``val_batches`` validation
batches, so every target's labels count (one batch of 64 over 40 tasks holds a handful each),
with the model's regression reduction, the one that selects checkpoints.

Parameterisations of lambda (diagonal fixed at 0, initialised at the model's current ratios):

* ``softplus`` (default): :math:`\lambda = \mathrm{softplus}(\phi)`, every entry free;
* ``sigmoid``: :math:`\lambda = \text{max\_ratio} \cdot \sigma(\phi)`;
* ``softmax`` **[ours]**: :math:`\lambda_{at} = (K-1)\, \mathrm{softplus}(\psi_t)\,
  \mathrm{softmax}_{a \ne t}(\phi_{\cdot t})_a`: each target's sources compete for one budget
  (the column sums to :math:`(K-1)\,\mathrm{softplus}(\psi_t)`), so the ratios choose sources
  instead of acting as one weight per target.

``phi`` (and ``psi``) have their own Adam optimiser and are updated every ``interval`` training
steps. The same random perturbations are used in every evaluation of one outer step, so the
finite differences and the JVP see one function. The validation split is cut in two
(:func:`split_validation`): one part drives lambda, the other early-stops and selects checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp

from molgate.featurize.batching import GraphBatch
from molgate.methods.gate import GATEModel, set_transfer_ratios
from molgate.methods.regression import regression_loss

PARAMETERIZATIONS = ("softplus", "sigmoid", "softmax")
HYPERGRADIENTS = ("jvp", "finite-difference")
PRECONDITIONERS = ("adam", "sgd")


@dataclass
class RatioSettings:
    parameterization: str = "softplus"
    outer_lr: float = 0.05
    interval: int = 10  # inner steps between outer updates
    hypergradient: str = "jvp"
    max_ratio: float = 2.0  # the sigmoid's ceiling: lambda in (0, max_ratio)
    preconditioner: str = "adam"  # the inner step the unrolling follows
    val_batches: int = 4  # validation batches averaged per outer step
    val_fraction: float = 0.5  # of the validation split that drives lambda (the rest selects)

    def __post_init__(self):
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}")
        if self.hypergradient not in HYPERGRADIENTS:
            raise ValueError(f"hypergradient must be one of {HYPERGRADIENTS}")
        if self.interval < 1:
            raise ValueError("interval must be >= 1")
        if not self.max_ratio > 0:
            raise ValueError(f"max_ratio must be positive, got {self.max_ratio}")
        if self.preconditioner not in PRECONDITIONERS:
            raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}")
        if self.val_batches < 1 or not 0.0 < self.val_fraction < 1.0:
            raise ValueError("val_batches must be >= 1 and val_fraction in (0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)


def _softplus_inverse(x: Tensor) -> Tensor:
    return x + torch.log(-torch.expm1(-x))


def split_validation(val_idx, fraction: float, seed: int = 0):
    """Cut the validation molecules in two disjoint parts: ``(drives lambda, selects checkpoints)``.

    The outer problem fits lambda to its part; judging checkpoints on the same molecules would
    reward that fit. A seeded permutation, so a rerun makes the same cut.
    """
    val_idx = np.asarray(val_idx)
    order = np.random.default_rng(seed).permutation(len(val_idx))
    n = int(round(fraction * len(val_idx)))
    n = min(max(n, 1), len(val_idx) - 1)
    return np.sort(val_idx[order[:n]]), np.sort(val_idx[order[n:]])


class _Call(nn.Module):
    """Calls one method of the model, so ``functional_call`` can swap its weights."""

    def __init__(self, model: GATEModel, method: str):
        super().__init__()
        self.model, self.method = model, method

    def forward(self, batch):
        return getattr(self.model, self.method)(batch)


class TransferRatioLearner:
    """Learns ``model.transfer_ratios`` by hypergradient descent on the validation loss."""

    def __init__(self, model: GATEModel, settings: RatioSettings | None = None):
        self.model = model
        self.settings = s = settings or RatioSettings()
        K = model.n_tasks
        self.off_diagonal = ~torch.eye(K, dtype=torch.bool)
        start = model.transfer_ratios.detach().clamp_min(1e-4).cpu()
        self.psi: nn.Parameter | None = None
        if s.parameterization == "softplus":
            phi = _softplus_inverse(start)
        elif s.parameterization == "sigmoid":
            p = (start / s.max_ratio).clamp(1e-4, 1 - 1e-4)
            phi = torch.log(p) - torch.log1p(-p)
        else:  # softmax: column shares and one scale per target
            off = torch.where(self.off_diagonal, start, torch.zeros_like(start))
            scale = off.sum(dim=0) / max(K - 1, 1)
            phi = torch.log(start)
            self.psi = nn.Parameter(_softplus_inverse(scale.clamp_min(1e-4)))
        self.phi = nn.Parameter(phi)
        self.optimizer = torch.optim.Adam([self.phi] + ([self.psi] if self.psi is not None else []),
                                          lr=s.outer_lr)
        self.history: list[list[list[float]]] = []
        self.steps = 0

    def ratios(self) -> Tensor:
        s = self.settings
        if s.parameterization == "softplus":
            lam = nn.functional.softplus(self.phi)
        elif s.parameterization == "sigmoid":
            lam = s.max_ratio * torch.sigmoid(self.phi)
        else:
            logits = self.phi.masked_fill(~self.off_diagonal, float("-inf"))
            share = torch.softmax(logits, dim=0)  # over sources a, per target column t
            lam = (self.phi.shape[0] - 1) * nn.functional.softplus(self.psi).unsqueeze(0) * share
        return torch.where(self.off_diagonal, lam, torch.zeros_like(lam))

    # ------------------------------------------------------------------ hypergradient
    def _functional(self, method: str, seed: int):
        module = _Call(self.model, method)
        buffers = {f"model.{k}": v for k, v in self.model.named_buffers()}

        def call(params: dict, batch: GraphBatch):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return functional_call(module, ({f"model.{k}": v for k, v in params.items()}, buffers),
                                       (batch,))
        return call

    def hypergradient(self, train: GraphBatch, val: GraphBatch | list[GraphBatch], eta: float,
                      seed: int = 0, precondition: dict[str, Tensor] | None = None) -> Tensor:
        """``dL_val(theta') / dlambda`` for every pair, ``[K, K]`` (see the module docstring).

        ``val``: one validation batch or several (their losses averaged). ``precondition``: ``P``
        per parameter name (:meth:`adam_preconditioner`); None is the plain gradient step.
        On the CPU, PyTorch's "deterministic algorithms" switch (Lightning sets it) sends the
        functorch transforms through paths 10-40x slower while the CPU kernels used here are
        deterministic anyway, so it is lifted for this computation; on a GPU it is left as set.
        """
        on_cpu = next(self.model.parameters()).device.type == "cpu"
        deterministic = torch.are_deterministic_algorithms_enabled()
        if on_cpu and deterministic:
            torch.use_deterministic_algorithms(False)
        try:
            return self._hypergradient(train, val if isinstance(val, list) else [val], eta, seed, precondition)
        finally:
            if on_cpu and deterministic:
                torch.use_deterministic_algorithms(True)

    def _unrolled(self, lam: Tensor, train: GraphBatch, eta: float, seed: int,
                  precondition: dict[str, Tensor] | None) -> tuple[dict, dict, object]:
        """``(theta, theta' = theta - eta P grad L_tr(theta, lam), loss_split)``."""
        params = {k: v.detach() for k, v in self.model.named_parameters()}
        split = self._functional("loss_split", seed)

        def train_loss(p):
            base, pairs = split(p, train)
            return base + (lam * pairs).sum()

        g_tr = grad(train_loss)(params)
        scale = precondition or {}
        unrolled = {k: params[k] - eta * scale.get(k, 1.0) * g_tr[k] for k in params}
        return params, unrolled, split

    def _validation_loss(self, predict, p: dict, vals: list[GraphBatch]) -> Tensor:
        losses = [regression_loss(predict(p, v.bmg), v.y, v.mask, self.model.reduction) for v in vals]
        return torch.stack(losses).mean()

    def _hypergradient(self, train: GraphBatch, vals: list[GraphBatch], eta: float, seed: int,
                       precondition: dict[str, Tensor] | None) -> Tensor:
        was_training = self.model.training
        self.model.train()
        lam = self.model.transfer_ratios.detach()
        params, unrolled, split = self._unrolled(lam, train, eta, seed, precondition)
        predict = self._functional("forward", seed)
        g_val = grad(lambda p: self._validation_loss(predict, p, vals))(unrolled)
        if precondition:
            g_val = {k: precondition.get(k, 1.0) * g for k, g in g_val.items()}

        def pair_matrix(p):
            return split(p, train)[1]

        if self.settings.hypergradient == "jvp":
            _, directional = jvp(pair_matrix, (params,), (g_val,))
        else:
            norm = math.sqrt(sum(float((g ** 2).sum()) for g in g_val.values())) or 1.0
            eps = 1e-3 / norm
            plus = pair_matrix({k: params[k] + eps * g_val[k] for k in params})
            minus = pair_matrix({k: params[k] - eps * g_val[k] for k in params})
            directional = (plus - minus) / (2 * eps)
        self.model.train(was_training)
        return -eta * directional.detach()

    def unrolled_validation_loss(self, lam: Tensor, train: GraphBatch, val: GraphBatch | list[GraphBatch],
                                 eta: float, seed: int = 0,
                                 precondition: dict[str, Tensor] | None = None) -> Tensor:
        """``L_val(theta - eta P grad L_tr(theta, lam))``: what the hypergradient differentiates."""
        _, unrolled, _ = self._unrolled(lam, train, eta, seed, precondition)
        predict = self._functional("forward", seed)
        return self._validation_loss(predict, unrolled, val if isinstance(val, list) else [val]).detach()

    def adam_preconditioner(self, optimizer: torch.optim.Optimizer) -> dict[str, Tensor] | None:
        """``P = 1 / (sqrt(v_hat) + eps)`` per parameter name from an Adam optimiser's state (None
        for ``preconditioner="sgd"`` or before Adam's first step); parameters without state get 1."""
        if self.settings.preconditioner != "adam":
            return None
        by_id = {}
        for group in optimizer.param_groups:
            beta2, eps = group.get("betas", (0.9, 0.999))[1], group.get("eps", 1e-8)
            for p in group["params"]:
                state = optimizer.state.get(p, {})
                if "exp_avg_sq" in state:
                    step = float(state["step"])
                    v_hat = state["exp_avg_sq"] / (1.0 - beta2 ** step)
                    by_id[id(p)] = 1.0 / (v_hat.sqrt() + eps)
        if not by_id:
            return None
        return {name: by_id[id(p)] for name, p in self.model.named_parameters() if id(p) in by_id}

    # ------------------------------------------------------------------ outer step
    def step(self, train: GraphBatch, val: GraphBatch | list[GraphBatch], eta: float,
             precondition: dict[str, Tensor] | None = None) -> Tensor:
        """One outer update of ``phi``; writes the new ratios into the model and the history."""
        hyper = self.hypergradient(train, val, eta, seed=self.steps, precondition=precondition)
        self.optimizer.zero_grad()
        self.ratios().backward(hyper.to(self.phi.device))
        self.optimizer.step()
        lam = self.ratios().detach()
        set_transfer_ratios(self.model, lam.to(self.model.transfer_ratios.device))
        self.history.append(lam.tolist())
        self.steps += 1
        return lam
