r"""The GATE losses (gate-spec sections 2 and 5) on batched tensors, in O(K) or one matmul.

Shapes. K tasks, B molecules, M perturbations per molecule:
``z [K, B, d_z]`` task latents, ``z_rec [K, B, d_z]`` = Inverse_k(Transfer_k(z_k)),
``u [K, B, d_lf]`` = Transfer_k(z_k) (points in the shared LF frame),
``u_pert [K, M, P, d_lf]`` the LF points of the M perturbed inputs of the batch's first P <= B
molecules (P = B unless ``GateConfig.perturb_molecules`` says fewer; the same perturbations for
every task), ``pred [B, K]`` = Head_k(z_k), ``y [B, K]`` standardised labels with NaN where
missing, optionally ``mask [B, K]`` (True = labelled). ``lambda [K, K]``: ``lambda[a, t]`` is the
transfer ratio of source a -> target t; its diagonal is ignored. ``MSE`` is the mean over every
element it is given; :math:`\mathrm{Var}(x_k) = \mathrm{MSE}(x_k, \mathrm{mean}_b\, x_k)` is the
spread of task k's points over the batch, averaged over coordinates.

``l_reg`` is :func:`molgate.methods.regression.regression_loss` (``per-task``: the spec's
``sum_k MSE_k``; ``pooled`` on request).

**Two forms of the alignment terms** (``form``). The spec writes them as plain MSEs (``"raw"``,
kept so earlier results stay reproducible). Written so, their size is set by the arbitrary scale
of the latents and of the LF frame, and the distance term by sigma^2: at the defaults they were
1e-2 (cons) and 1e-7 (dis) against a regression loss of 1-8, and moved nothing. The default
``"scale_free"`` form **[ours]** divides each by the spread of what it compares:

.. math::

    l_{auto} &= \sum_k \frac{\mathrm{MSE}(z_k, \hat z_k)}{\mathrm{Var}(z_k)} \qquad
    C[a, t]   = \frac{\mathrm{MSE}(u_a, u_t)}{\mathrm{Var}(u_t)} \\
    \tilde s_k^i(b) &= \frac{s_k^i(b)}{\bar s_k}, \quad
    s_k^i(b) = \lVert u_k(x_b) - u_k(x_b^i) \rVert_2, \quad \bar s_k = \mathrm{mean}_{i,b}\, s_k^i(b) \\
    D[a, t]  &= \mathrm{mean}_i\, \mathrm{MSE}(\tilde s_a^i, \tilde s_t^i) \qquad
    P[a, t]   = \frac{1}{|L_t|} \sum_{b \in L_t} \left(y_{bt} - \mathrm{Head}_t(\mathrm{Inverse}_t(u_{a,b}))\right)^2

The normalisers are *not* detached: each term is then homogeneous of degree 0 in the scale of
the latents, so its value does not change when every latent is multiplied by a constant and its
gradient has no component along that scale (nothing is gained by shrinking the frame). C[a, t]
is measured in the target's own spread, so a source's gradient comes only from the numerator.
A batch of one molecule has no spread: there the scale-free l_auto and C are 0 (not 0/eps, which
gave a loss of 1e10 on the last batch of an epoch of 64n + 1 molecules and wrecked the optimiser's
state). D compares the *shape* of each task's local geometry: the distance ratios between molecules and
their perturbations, independent of sigma to first order. P is in label units already.
``"raw"`` is the same with every normaliser 1 and :math:`\tilde s = s`.

**Distances** (``distance_form``, **[ours]**). ``"perturbation"`` (the paper's): s as above, M extra
passes through every encoder. ``"batch"``: the distances between the molecules of the batch,
:math:`s_k(b, b') = \lVert u_k(x_b) - u_k(x_{b'}) \rVert` over the B(B-1)/2 pairs, with no extra
pass; the same normalisation and MSE follow. ``GateConfig.perturb_molecules = P`` **[ours]**
perturbs only the batch's first P molecules (a fresh random subset on every step, as training
batches are shuffled): every encoder and Transfer then sees B + M P rows instead of (1 + M) B, and
D is averaged over those P molecules, a noisier estimate of the same quantity.

**Directed transfer** (``detach_sources``): every pair term is computed with the source's side
detached, :math:`X(\mathrm{sg}(x_a), x_t)`, so a target learns to align to its sources and no
source is pulled towards a target. This is the ICLR pair setting (one target, one source).

Pair sums. Each pair term is :math:`l_X = \frac{1}{c_K} \sum_{a \ne t} \lambda[a, t]\, X[a, t]` over
*ordered* pairs (a, t), with :math:`c_K` the ``pair_reduction`` option **[ours]**:
``"target_mean"`` (default) :math:`c_K = K - 1` (each target's terms averaged over its sources,
then summed over targets, the same "sum over tasks" scale as l_reg and l_auto); ``"sum"``
:math:`c_K = 1`; ``"pair_mean"`` :math:`c_K = K (K - 1)`. K = 1 has no pairs and gives 0.

How they are computed (gate-spec section 5):

* no weights: per element :math:`\sum_a (x_a - x_t)^2 = \sum_a (x_a - \bar x)^2 + K (x_t - \bar x)^2`
  with :math:`\bar x = \frac1K \sum_k x_k` (exact), so every target's row sum
  :math:`R_t = \sum_a \mathrm{MSE}(x_a, x_t) = S + K\, \mathrm{MSE}(x_t, \bar x)`,
  :math:`S = \sum_a \mathrm{MSE}(x_a, \bar x)`, is O(K) and no pair is formed. Then
  :math:`l_X = \frac{1}{c_K} \sum_t R_t / N_t` with :math:`N_t` the target normaliser
  (:math:`\mathrm{Var}(u_t)` for scale-free C, else 1). Detached sources: S and
  :math:`\bar x` from :math:`\mathrm{sg}(x)`.
* weights: the Gram matrix. With :math:`x_k` the flattened values of task k (centred by
  :math:`\bar x`, which leaves every difference unchanged and avoids cancellation),
  :math:`\sum \lVert x_a - x_t \rVert^2 = n_a + n_t - 2 G_{at}` with :math:`G = X X^\top`,
  :math:`n_k = \lVert x_k \rVert^2`: one ``[K, N] x [N, K]`` matmul for all pairs. Detached
  sources use :math:`G = \mathrm{sg}(X) X^\top` and :math:`\mathrm{sg}(n_a)`.
* mapping (:mod:`molgate.methods.gate_mapping`): only (molecule, t) pairs that carry a label are
  evaluated (L of them), and :math:`\mathrm{Head}_t(\mathrm{Inverse}_t(u_a))` for the other
  sources a in one block per target: (K - 1) * L rows, never O(K^2 B).

Missing labels are replaced by 0 *before* any arithmetic, so they contribute neither loss nor NaN
gradients. The plain double loops that the tests check these forms against live in ``tests/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from molgate.methods.gate_mapping import (PredictByTarget, PredictFromLF, chunk_pairs_by_target,
                                          mapping_pair_matrix, mapping_pair_matrix_by_target)
from molgate.methods.regression import labelled_mask, regression_loss

__all__ = ["PairReduction", "Form", "DistanceForm", "FORMS", "DISTANCE_FORMS", "GateLossWeights",
           "labelled_mask", "pair_normaliser", "spread", "has_spread", "autoencoding_loss", "perturbation_distances",
           "batch_distances", "normalised_distances", "pair_mse_matrix", "consistency_matrix",
           "consistency_loss", "distance_matrix", "distance_loss", "mapping_pair_matrix",
           "mapping_pair_matrix_by_target", "mapping_matrix", "mapping_loss", "pair_terms_matrix",
           "loss_terms", "total_loss", "chunk_pairs_by_target", "PredictFromLF", "PredictByTarget"]

PairReduction = Literal["target_mean", "sum", "pair_mean"]
Form = Literal["scale_free", "raw"]
DistanceForm = Literal["perturbation", "batch"]
FORMS = ("scale_free", "raw")
DISTANCE_FORMS = ("perturbation", "batch")
_EPS = 1e-12  # keeps a normaliser of identical points finite (a batch of one: has_spread)

def pair_normaliser(n_tasks: int, reduction: PairReduction) -> float:
    """``c_K`` of the pair sums (module docstring)."""
    if reduction == "target_mean":
        return float(n_tasks - 1)
    if reduction == "sum":
        return 1.0
    if reduction == "pair_mean":
        return float(n_tasks * (n_tasks - 1))
    raise ValueError(f"unknown pair_reduction {reduction!r}; use 'target_mean', 'sum' or 'pair_mean'")


def _check_form(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def has_spread(x: Tensor) -> bool:
    """Whether ``x [K, B, ...]`` holds at least two molecules, so that a spread is defined."""
    return x.shape[1] >= 2


def spread(x: Tensor) -> Tensor:
    """``Var(x_k)`` ``[K]``: each task's mean squared distance to its batch mean (``x [K, B, ...]``)."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    return (flat - flat.mean(dim=1, keepdim=True)).pow(2).mean(dim=(1, 2)).clamp_min(_EPS)


def _masked_off_diagonal_sum(pair_matrix: Tensor, weights: Tensor | None, reduction: PairReduction) -> Tensor:
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
    return terms.sum() / pair_normaliser(K, reduction)


def pair_mse_matrix(x: Tensor, detach_sources: bool = False) -> Tensor:
    """``X[a, t] = MSE(x_a, x_t)`` (source a detached if asked), ``x [K, ...] -> [K, K]``: one Gram."""
    K = x.shape[0]
    x = x.reshape(K, -1)
    centre = x.mean(dim=0, keepdim=True)
    x = x - (centre.detach() if detach_sources else centre)
    sq = x.pow(2).sum(dim=1)
    source, sq_source = (x.detach(), sq.detach()) if detach_sources else (x, sq)
    sq_dist = (sq_source.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * source @ x.T).clamp_min(0.0)
    return sq_dist / x.shape[1]


def _target_row_sums(x: Tensor, detach_sources: bool = False) -> Tensor:
    """``R_t = sum_a MSE(x_a, x_t)`` for every target t, ``[K]``, by the variance identity: O(K)."""
    K = x.shape[0]
    x = x.reshape(K, -1)
    source = x.detach() if detach_sources else x
    centre = source.mean(dim=0, keepdim=True)
    return (source - centre).pow(2).mean(dim=1).sum() + K * (x - centre).pow(2).mean(dim=1)


def _pair_term(x: Tensor, target_norm: Tensor | float, weights: Tensor | None,
               reduction: PairReduction, detach_sources: bool) -> Tensor:
    """``(1/c_K) sum_{a != t} lambda[a, t] MSE(x_a, x_t) / N_t``; O(K) when ``weights`` is None."""
    K = x.shape[0]
    if K < 2:
        return x.sum() * 0.0
    if weights is None:
        return (_target_row_sums(x, detach_sources) / target_norm).sum() / pair_normaliser(K, reduction)
    matrix = pair_mse_matrix(x, detach_sources)
    if isinstance(target_norm, Tensor):
        matrix = matrix / target_norm.unsqueeze(0)
    return _masked_off_diagonal_sum(matrix, weights, reduction)


def autoencoding_loss(z: Tensor, z_rec: Tensor, form: Form = "scale_free") -> Tensor:
    """``l_auto = sum_k MSE(z_k, Inverse_k(Transfer_k(z_k))) [/ Var(z_k)]`` over all molecules."""
    _check_form(form)
    per_task = (z - z_rec).pow(2).reshape(z.shape[0], -1).mean(dim=1)
    if form == "scale_free" and not has_spread(z):
        return per_task.sum() * 0.0
    return (per_task / spread(z) if form == "scale_free" else per_task).sum()


def _consistency_normaliser(u: Tensor, form: Form) -> Tensor | float:
    _check_form(form)
    return spread(u) if form == "scale_free" else 1.0


def consistency_matrix(u: Tensor, form: Form = "scale_free", detach_sources: bool = False) -> Tensor:
    """``C [K, K]`` with ``C[a, t] = MSE(u_a, u_t) [/ Var(u_t)]`` (diagonal 0)."""
    norm = _consistency_normaliser(u, form)
    matrix = pair_mse_matrix(u, detach_sources)
    if form == "scale_free" and not has_spread(u):
        return matrix * 0.0
    return matrix / norm.unsqueeze(0) if isinstance(norm, Tensor) else matrix


def consistency_loss(u: Tensor, weights: Tensor | None = None, reduction: PairReduction = "target_mean",
                     form: Form = "scale_free", detach_sources: bool = False) -> Tensor:
    """``l_cons = (1/c_K) sum_{a != t} lambda[a, t] C[a, t]``; O(K) if ``weights`` is None."""
    if form == "scale_free" and not has_spread(u):
        return u.sum() * 0.0
    return _pair_term(u, _consistency_normaliser(u, form), weights, reduction, detach_sources)


def perturbation_distances(u: Tensor, u_pert: Tensor) -> Tensor:
    """``s[k, i, b] = ||u_k(x_b) - u_k(x_b^i)||_2``: ``u [K, B, d]``, ``u_pert [K, M, P, d] -> [K, M, P]``,
    the perturbed molecules being the batch's first P <= B."""
    return torch.linalg.vector_norm(u[:, :u_pert.shape[2]].unsqueeze(1) - u_pert, dim=-1)


def batch_distances(u: Tensor) -> Tensor:
    """``s[k, 0, p] = ||u_k(x_b) - u_k(x_b')||_2`` over the pairs b < b' of the batch: ``[K, 1, B(B-1)/2]``.

    From each task's Gram matrix (one ``[B, d] x [d, B]`` matmul per task), not from the
    ``[K, B^2/2, d]`` differences, which cost B/2 times the memory of the points themselves.
    """
    B = u.shape[1]
    first, second = torch.triu_indices(B, B, offset=1, device=u.device)
    centred = u - u.mean(dim=1, keepdim=True)  # differences unchanged, less cancellation
    gram = centred @ centred.transpose(1, 2)  # [K, B, B]
    sq = torch.diagonal(gram, dim1=1, dim2=2)
    sq_dist = sq.unsqueeze(2) + sq.unsqueeze(1) - 2.0 * gram
    # clamp before the square root: identical points give distance 0 and a finite gradient
    return sq_dist[:, first, second].clamp_min(_EPS).sqrt().unsqueeze(1)


def normalised_distances(u: Tensor, u_pert: Tensor | None, form: Form = "scale_free") -> Tensor:
    """The distances the distance term compares: perturbation distances (``u_pert`` given) or
    batch distances (``u_pert`` None), each task's divided by its mean in the scale-free form."""
    s = perturbation_distances(u, u_pert) if u_pert is not None else batch_distances(u)
    return scaled_distances(s, form)


def scaled_distances(s: Tensor, form: Form = "scale_free") -> Tensor:
    """Distances ``s [K, M, B]`` as the distance term compares them: each task's divided by its
    mean in the scale-free form, unchanged in the raw one."""
    _check_form(form)
    if form == "raw":
        return s
    return s / s.mean(dim=(1, 2), keepdim=True).clamp_min(_EPS)


def distance_matrix(u: Tensor, u_pert: Tensor | None, form: Form = "scale_free",
                    detach_sources: bool = False) -> Tensor:
    """``D [K, K]``, ``D[a, t] = mean_i MSE(s~_a^i, s~_t^i)`` (diagonal 0)."""
    if u_pert is None and not has_spread(u):  # one molecule: no pair to take a distance of
        return u.new_zeros(u.shape[0], u.shape[0]) + u.sum() * 0.0
    return pair_mse_matrix(normalised_distances(u, u_pert, form), detach_sources)


def distance_loss(u: Tensor, u_pert: Tensor | None, weights: Tensor | None = None,
                  reduction: PairReduction = "target_mean", form: Form = "scale_free",
                  detach_sources: bool = False) -> Tensor:
    """``l_dis = (1/c_K) sum_{a != t} lambda[a, t] D[a, t]``; O(K) without weights."""
    if u_pert is None and not has_spread(u):  # one molecule: no pair to take a distance of
        return u.sum() * 0.0
    return _pair_term(normalised_distances(u, u_pert, form), 1.0, weights, reduction, detach_sources)


def mapping_matrix(u: Tensor, y: Tensor, predict_from_lf: PredictFromLF | None, mask: Tensor | None = None,
                   detach_sources: bool = False, predict_by_target: PredictByTarget | None = None,
                   sources: int | None = None) -> Tensor:
    """``P [K, K]`` by target blocks if ``predict_by_target`` is given (diagonal 0; ``sources``:
    ``GateLossWeights.map_sources``), else in chunks through ``predict_from_lf``
    (:mod:`molgate.methods.gate_mapping`); the same off the diagonal."""
    if predict_by_target is not None:
        return mapping_pair_matrix_by_target(u, y, predict_by_target, mask, detach_sources, sources)
    if sources is not None:
        raise ValueError("map_sources needs predict_by_target")
    return mapping_pair_matrix(u, y, predict_from_lf, mask, detach_sources=detach_sources)


def mapping_loss(u: Tensor, y: Tensor, predict_from_lf: PredictFromLF | None, mask: Tensor | None = None,
                 weights: Tensor | None = None, reduction: PairReduction = "target_mean",
                 detach_sources: bool = False, predict_by_target: PredictByTarget | None = None,
                 sources: int | None = None) -> Tensor:
    """``l_map = (1/c_K) sum_{a != t} lambda[a, t] P[a, t]`` (see :func:`mapping_matrix`)."""
    matrix = mapping_matrix(u, y, predict_from_lf, mask, detach_sources, predict_by_target, sources)
    return _masked_off_diagonal_sum(matrix, weights, reduction)


@dataclass
class GateLossWeights:
    """``L = l_reg + alpha*l_auto + beta*l_cons + gamma*l_map + delta*l_dis`` (spec section 2).

    A term is computed only if its ``use_*`` switch is on and its weight is non-zero (ablations).
    ``pair_reduction``, ``form``, ``distance_form`` and ``detach_sources``: module docstring;
    ``map_sources`` **[ours]**: the mapping term from that many sources per target, drawn on each
    step (an unbiased estimate, :mod:`molgate.methods.gate_mapping`; None: every source).

    Default weights 0.03, chosen on validation (``benchmarks/gate_alignment_trial.py``: reference10,
    scaffold seed 0, 500 labels per task, 8 epochs): of the weights tried with every term on
    (1, TUNED, 0.1, 0.03) the smallest validated best, and every one was worse than no alignment.
    At 0.03 each term carries 1-4% of the regression gradient on the encoders.
    """

    alpha: float = 0.03
    beta: float = 0.03
    gamma: float = 0.03
    delta: float = 0.03
    use_auto: bool = True
    use_cons: bool = True
    use_map: bool = True
    use_dis: bool = True
    pair_reduction: PairReduction = "target_mean"
    form: Form = "scale_free"
    distance_form: DistanceForm = "perturbation"
    detach_sources: bool = False
    map_sources: int | None = None

    def __post_init__(self):
        _check_form(self.form)
        if self.distance_form not in DISTANCE_FORMS:
            raise ValueError(f"distance_form must be one of {DISTANCE_FORMS}, got {self.distance_form!r}")
        if self.map_sources is not None and self.map_sources < 1:
            raise ValueError(f"map_sources must be at least 1 (None: every source), got {self.map_sources}")
        pair_normaliser(2, self.pair_reduction)

    def active(self) -> dict[str, float]:
        """The weighted terms that are switched on, by name: ``{"auto": alpha, ...}``."""
        terms = {"auto": (self.use_auto, self.alpha), "cons": (self.use_cons, self.beta),
                 "map": (self.use_map, self.gamma), "dis": (self.use_dis, self.delta)}
        return {name: w for name, (on, w) in terms.items() if on and w != 0.0}

    @property
    def needs_perturbations(self) -> bool:
        return "dis" in self.active() and self.distance_form == "perturbation"


def pair_terms_matrix(u: Tensor, u_pert: Tensor | None, y: Tensor, predict_from_lf: PredictFromLF | None,
                      mask: Tensor | None, weights: GateLossWeights,
                      predict_by_target: PredictByTarget | None = None) -> Tensor:
    """``M[a, t] = (beta C + gamma P + delta D)[a, t] / c_K`` over the active pair terms, zero diagonal.

    The pair part of the GATE loss is then exactly ``sum(lambda * M)``, so ``M[a, t]`` is the
    derivative of the training loss with respect to the transfer ratio ``lambda[a, t]`` (what the
    bi-level hypergradient of :mod:`molgate.methods.transfer_ratios` differentiates).
    """
    active, detach, form = weights.active(), weights.detach_sources, weights.form
    K = u.shape[0]
    total = u.new_zeros(K, K)
    if "cons" in active:
        total = total + active["cons"] * consistency_matrix(u, form, detach)
    if "map" in active:
        total = total + active["map"] * mapping_matrix(u, y, predict_from_lf, mask, detach, predict_by_target,
                                                       weights.map_sources)
    if "dis" in active:
        total = total + active["dis"] * distance_matrix(u, u_pert, form, detach)
    if K < 2:
        return total * 0.0
    off_diagonal = ~torch.eye(K, dtype=torch.bool, device=u.device)
    return torch.where(off_diagonal, total, torch.zeros_like(total)) / pair_normaliser(K, weights.pair_reduction)


def loss_terms(pred: Tensor, y: Tensor, *, z: Tensor | None = None, z_rec: Tensor | None = None,
               u: Tensor | None = None, u_pert: Tensor | None = None,
               predict_from_lf: PredictFromLF | None = None, mask: Tensor | None = None,
               transfer_ratios: Tensor | None = None, weights: GateLossWeights | None = None,
               reduction: str = "per-task", predict_by_target: PredictByTarget | None = None
               ) -> dict[str, Tensor]:
    """Every active term, unweighted and with its graph: ``{"reg", "auto", "cons", "map", "dis"}``.

    Only the inputs of active terms are needed. ``transfer_ratios`` is lambda ``[K, K]`` for all
    pair terms (None = uniform, which uses the O(K) forms for cons and dis); ``u_pert`` None with
    ``distance_form="batch"`` uses the batch distances. ``reduction`` is l_reg's. The mapping term
    runs through ``predict_by_target`` if given, else ``predict_from_lf`` (:func:`mapping_matrix`).
    """
    weights = weights or GateLossWeights()
    pairs, form, detach = weights.pair_reduction, weights.form, weights.detach_sources
    parts = {"reg": regression_loss(pred, y, mask, reduction)}
    active = weights.active()
    if "auto" in active:
        parts["auto"] = autoencoding_loss(z, z_rec, form)
    if "cons" in active:
        parts["cons"] = consistency_loss(u, transfer_ratios, pairs, form, detach)
    if "map" in active:
        parts["map"] = mapping_loss(u, y, predict_from_lf, mask, transfer_ratios, pairs, detach,
                                    predict_by_target, weights.map_sources)
    if "dis" in active:
        distances_from = u_pert if weights.distance_form == "perturbation" else None
        parts["dis"] = distance_loss(u, distances_from, transfer_ratios, pairs, form, detach)
    return parts


def total_loss(pred: Tensor, y: Tensor, *, weights: GateLossWeights | None = None,
               **inputs) -> tuple[Tensor, dict[str, Tensor]]:
    """The GATE loss and its detached components ``{"reg", "auto", "cons", "map", "dis", "total"}``
    (``inputs``: those of :func:`loss_terms`)."""
    weights = weights or GateLossWeights()
    parts = loss_terms(pred, y, weights=weights, **inputs)
    active = weights.active()
    total = parts["reg"] + sum(active[name] * parts[name] for name in active)
    log = {name: value.detach() for name, value in parts.items()}
    log["total"] = total.detach()
    return total, log
