r"""Learned transfer ratios: bi-level optimisation of lambda[source, target] (gate-spec section 6).

Inner problem: the model weights :math:`\theta` minimise the training loss
:math:`L_{tr}(\theta, \lambda) = b(\theta) + \sum_{a \ne t} \lambda_{at} M_{at}(\theta)`, where
``M`` is GATE's pair-term matrix (:func:`~molgate.methods.gate_losses.pair_terms_matrix`).
Outer problem: :math:`\lambda` minimises the validation regression loss
:math:`L_{val}(\theta^*(\lambda))`.

Hypergradient, one step unrolled **[ours]**: with :math:`\theta' = \theta - \eta \nabla_\theta L_{tr}`
and :math:`g' = \nabla_\theta L_{val}(\theta')`,

.. math::

    \frac{\partial L_{val}(\theta')}{\partial \lambda_{at}}
      = -\eta\, g'^\top \nabla_\theta M_{at}(\theta)
      = -\eta\, [J_M(\theta)\, g']_{at}

so all K^2 entries are one Jacobian-vector product of ``M`` along ``g'``: one forward-mode pass
(``torch.func.jvp``, ``method="jvp"``), or the central difference
:math:`(M(\theta + \epsilon g') - M(\theta - \epsilon g')) / 2\epsilon` (two forward passes,
``method="finite-difference"``). Either way the cost does not grow with the number of pairs:
per outer step one gradient of L_tr, one gradient of L_val and one JVP.

``lambda = softplus(phi)`` (default) or ``lambda = max_ratio * sigmoid(phi)``, diagonal fixed at 0,
initialised at the model's current ratios (all ones by default); ``phi`` has its own Adam optimiser
and is updated every ``interval`` training steps. The same random perturbations are used in every
evaluation of one outer step, so the finite differences and the JVP see one function.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp

from molgate.featurize.batching import GraphBatch
from molgate.methods.gate import GATEModel, set_transfer_ratios
from molgate.methods.regression import regression_loss

PARAMETERIZATIONS = ("softplus", "sigmoid")
HYPERGRADIENTS = ("jvp", "finite-difference")


@dataclass
class RatioSettings:
    parameterization: str = "softplus"
    outer_lr: float = 0.05
    interval: int = 10  # inner steps between outer updates
    hypergradient: str = "jvp"
    max_ratio: float = 2.0  # sigmoid only: lambda in (0, max_ratio)

    def __post_init__(self):
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}")
        if self.hypergradient not in HYPERGRADIENTS:
            raise ValueError(f"hypergradient must be one of {HYPERGRADIENTS}")
        if self.interval < 1:
            raise ValueError("interval must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


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
        if s.parameterization == "softplus":
            phi = start + torch.log(-torch.expm1(-start))  # softplus^-1
        else:
            p = (start / s.max_ratio).clamp(1e-4, 1 - 1e-4)
            phi = torch.log(p) - torch.log1p(-p)
        self.phi = nn.Parameter(phi)
        self.optimizer = torch.optim.Adam([self.phi], lr=s.outer_lr)
        self.history: list[list[list[float]]] = []
        self.steps = 0

    def ratios(self) -> Tensor:
        s = self.settings
        lam = nn.functional.softplus(self.phi) if s.parameterization == "softplus" \
            else s.max_ratio * torch.sigmoid(self.phi)
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

    def hypergradient(self, train: GraphBatch, val: GraphBatch, eta: float, seed: int = 0) -> Tensor:
        """``dL_val(theta') / dlambda`` for every pair, ``[K, K]`` (see the module docstring).

        On the CPU, PyTorch's "deterministic algorithms" switch (Lightning sets it) sends the
        functorch transforms through paths 10-40x slower while the CPU kernels used here are
        deterministic anyway, so it is lifted for this computation; on a GPU it is left as set.
        """
        on_cpu = next(self.model.parameters()).device.type == "cpu"
        deterministic = torch.are_deterministic_algorithms_enabled()
        if on_cpu and deterministic:
            torch.use_deterministic_algorithms(False)
        try:
            return self._hypergradient(train, val, eta, seed)
        finally:
            if on_cpu and deterministic:
                torch.use_deterministic_algorithms(True)

    def _hypergradient(self, train: GraphBatch, val: GraphBatch, eta: float, seed: int) -> Tensor:
        was_training = self.model.training
        self.model.train()
        params = {k: v.detach() for k, v in self.model.named_parameters()}
        split = self._functional("loss_split", seed)
        lam = self.model.transfer_ratios.detach()

        def train_loss(p):
            base, pairs = split(p, train)
            return base + (lam * pairs).sum()

        g_tr = grad(train_loss)(params)
        unrolled = {k: params[k] - eta * g_tr[k] for k in params}
        predict = self._functional("forward", seed)
        g_val = grad(lambda p: regression_loss(predict(p, val.bmg), val.y, val.mask, self.model.reduction))(unrolled)

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

    def unrolled_validation_loss(self, lam: Tensor, train: GraphBatch, val: GraphBatch, eta: float,
                                 seed: int = 0) -> Tensor:
        """``L_val(theta - eta grad L_tr(theta, lam))``: what the hypergradient differentiates."""
        params = {k: v.detach() for k, v in self.model.named_parameters()}
        split = self._functional("loss_split", seed)

        def train_loss(p):
            base, pairs = split(p, train)
            return base + (lam * pairs).sum()

        g_tr = grad(train_loss)(params)
        predict = self._functional("forward", seed)
        unrolled = {k: params[k] - eta * g_tr[k] for k in params}
        return regression_loss(predict(unrolled, val.bmg), val.y, val.mask, self.model.reduction).detach()

    # ------------------------------------------------------------------ outer step
    def step(self, train: GraphBatch, val: GraphBatch, eta: float) -> Tensor:
        """One outer update of ``phi``; writes the new ratios into the model and the history."""
        hyper = self.hypergradient(train, val, eta, seed=self.steps)
        self.optimizer.zero_grad()
        self.ratios().backward(hyper.to(self.phi.device))
        self.optimizer.step()
        lam = self.ratios().detach()
        set_transfer_ratios(self.model, lam.to(self.model.transfer_ratios.device))
        self.history.append(lam.tolist())
        self.steps += 1
        return lam
