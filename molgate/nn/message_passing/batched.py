r"""K independent bond-based D-MPNN encoders run as one batched computation.

Each encoder k follows chemprop's :class:`~chemprop.nn.message_passing.BondMessagePassing`
(same equations, same weight layout), with its weights stacked along a leading task axis:

.. math::

    h_{vw}^{(0)}   &= \mathbf W_i (x_v \mathbin\Vert e_{vw})                       && \text{(initial projection, ``h0``)} \\
    h_{vw}^{(1)}   &= \tau\left(h_{vw}^{(0)}\right) \\
    m_{vw}^{(t)}   &= \sum_{u \in \mathcal N(v)} h_{uv}^{(t)} - h_{wv}^{(t)}         && \text{(reverse-edge trick)} \\
    h_{vw}^{(t+1)} &= \tau\left(h_{vw}^{(0)} + \mathbf W_h^{[k]} m_{vw}^{(t)}\right), \quad t = 1..T-1 \\
    m_v            &= \sum_{w \in \mathcal N(v)} h_{wv}^{(T)} \\
    h_v^{[k]}      &= \tau\left(\mathbf W_o^{[k]} (x_v \mathbin\Vert m_v)\right)

followed, for molecule-level vectors, by the mean over the atoms of each molecule
(chemprop's :class:`~chemprop.nn.agg.MeanAggregation`).

Why batched: GATE's ``separate`` encoder mode (gate-spec section 4) trains one D-MPNN per task;
a Python loop over K tasks launches K times as many small kernels. Here every weight is a
``[K, out, in]`` tensor and each step is one batched matmul (``torch.baddbmm`` over a K batch
axis) and one scatter over all K encoders at once.

Why ``h0`` is exposed: the distance loss needs every task to see the *same* perturbed input
(gate-spec section 3). With ``shared_input=True``, :math:`\mathbf W_i` is a single shared linear
layer, :meth:`BatchedBondMessagePassing.initial` returns the shared ``h0`` and
:meth:`BatchedBondMessagePassing.forward` accepts an already-computed (e.g. perturbed) ``h0``
with any number of leading sample dimensions, so the clean input and M perturbations run through
all K encoders in one call.

Why once per environment: without a given ``h0`` (nothing perturbed per bond) and without active
dropout, every row depends only on its bond's or atom's environment, so the K encoders run on one
row per distinct environment of one :class:`~molgate.nn.message_passing.training.TrainingPlan`
(the labelling is weight-free, so all K share it) and the atom rows are gathered back: the same
function, forward and backward (see :mod:`~molgate.nn.message_passing.training`).
``deduplicate_training = False`` or ``MOLGATE_DEDUP_TRAINING=0`` switches it off.
"""

from __future__ import annotations

from typing import Sequence

import torch
from chemprop.conf import DEFAULT_ATOM_FDIM, DEFAULT_BOND_FDIM, DEFAULT_HIDDEN_DIM
from chemprop.data import BatchMolGraph
from chemprop.nn.message_passing import BondMessagePassing
from chemprop.nn.utils import get_activation_function
from torch import Tensor, nn

from molgate.nn.message_passing.sums import MEAN, aggregate, sum_into_atoms
from molgate.nn.message_passing.training import TrainingPlan, deduplicated_training_enabled, training_plan
from molgate.nn.mlp import init_stacked_linear_

__all__ = ["BatchedBondMessagePassing"]


def _stacked_affine(x: Tensor, weight: Tensor, bias: Tensor | None = None,
                    add: Tensor | None = None) -> Tensor:
    """K affine maps, plus an optional fused addend: ``W_k x_k + b_k + add_k``.

    ``x [K or 1, *S, n, d_in]``, ``weight [K, d_out, d_in]``, ``add [K or 1, *S, n, d_out]`` ->
    ``[K, *S, n, d_out]``. Sample dims ``*S`` are folded into the row axis, so the work is one
    ``baddbmm``; a leading 1 means the same input for every encoder, computed as one wide matmul.
    """
    K, d_out = weight.shape[0], weight.shape[1]
    rows = x.reshape(x.shape[0], -1, x.shape[-1])
    base = None if add is None else add.reshape(add.shape[0], -1, d_out)
    if bias is not None:
        base = bias.unsqueeze(1) if base is None else base + bias.unsqueeze(1)
    if x.shape[0] == K:
        wt = weight.transpose(1, 2)
        out = torch.bmm(rows, wt) if base is None else torch.baddbmm(base, rows, wt)
    else:
        out = torch.einsum("ri,koi->kro", rows[0], weight)
        out = out if base is None else out + base
    return out.reshape(K, *x.shape[1:-1], d_out)


class BatchedBondMessagePassing(nn.Module):
    """K bond message-passing encoders with stacked weights (see the module docstring).

    Parameters
    ----------
    n_encoders : int
        K, the number of independent encoders (one per task).
    d_v, d_e : int
        atom and bond feature dimensions (chemprop's defaults).
    d_h : int
        hidden dimension of every encoder.
    depth : int
        T, the number of message-passing iterations (as chemprop: ``depth - 1`` updates with W_h).
    dropout : float
        dropout probability after each update and after the output layer, as in chemprop.
    bias : bool
        whether W_i and W_h carry a bias (W_o always does, as in chemprop).
    activation : str | nn.Module
        tau, resolved with chemprop's ``get_activation_function``.
    shared_input : bool
        if True, W_i is one :class:`torch.nn.Linear` shared by all encoders, so ``h0`` is shared
        (and can be perturbed once for every task); W_h and W_o stay per-encoder.
    """

    def __init__(
        self,
        n_encoders: int,
        d_v: int = DEFAULT_ATOM_FDIM,
        d_e: int = DEFAULT_BOND_FDIM,
        d_h: int = DEFAULT_HIDDEN_DIM,
        depth: int = 3,
        dropout: float = 0.0,
        bias: bool = False,
        activation: str | nn.Module = "relu",
        shared_input: bool = False,
    ):
        super().__init__()
        if n_encoders < 1:
            raise ValueError(f"n_encoders must be >= 1, got {n_encoders}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.n_encoders, self.d_v, self.d_e, self.d_h = n_encoders, d_v, d_e, d_h
        self.depth, self.shared_input = depth, shared_input
        K = n_encoders

        if shared_input:
            self.W_i = nn.Linear(d_v + d_e, d_h, bias=bias)
        else:
            self.W_i_weight = nn.Parameter(torch.empty(K, d_h, d_v + d_e))
            self.W_i_bias = nn.Parameter(torch.empty(K, d_h)) if bias else None
        self.W_h_weight = nn.Parameter(torch.empty(K, d_h, d_h))
        self.W_h_bias = nn.Parameter(torch.empty(K, d_h)) if bias else None
        self.W_o_weight = nn.Parameter(torch.empty(K, d_h, d_v + d_h))
        self.W_o_bias = nn.Parameter(torch.empty(K, d_h))

        self.dropout = nn.Dropout(dropout)
        self.tau = get_activation_function(activation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.shared_input:
            self.W_i.reset_parameters()
        else:
            init_stacked_linear_(self.W_i_weight, self.W_i_bias)
        init_stacked_linear_(self.W_h_weight, self.W_h_bias)
        init_stacked_linear_(self.W_o_weight, self.W_o_bias)

    @property
    def output_dim(self) -> int:
        return self.d_h

    @classmethod
    def from_chemprop(
        cls, encoders: Sequence[BondMessagePassing], shared_input: bool = False
    ) -> "BatchedBondMessagePassing":
        """Stack K chemprop ``BondMessagePassing`` modules into one batched module (weights copied).

        All encoders must share dimensions, depth, activation and bias. ``undirected`` message
        passing, vertex descriptors (``W_d``) and graph transforms are not supported. With
        ``shared_input=True`` the K input projections W_i must be identical.
        """
        if len(encoders) == 0:
            raise ValueError("need at least one encoder")
        first = encoders[0]
        for mp in encoders:
            if not isinstance(mp, BondMessagePassing):
                raise TypeError(f"expected chemprop BondMessagePassing, got {type(mp).__name__}")
            if mp.undirected or mp.W_d is not None or not isinstance(mp.graph_transform, nn.Identity):
                raise ValueError("undirected message passing, W_d and graph transforms are not supported")
            same = (
                mp.W_i.weight.shape == first.W_i.weight.shape
                and mp.W_h.weight.shape == first.W_h.weight.shape
                and mp.depth == first.depth
                and (mp.W_i.bias is None) == (first.W_i.bias is None)
                and type(mp.tau) is type(first.tau)
            )
            if not same:
                raise ValueError("all encoders must have the same dimensions, depth, bias and activation")
        if shared_input and any(not torch.equal(mp.W_i.weight, first.W_i.weight) for mp in encoders):
            raise ValueError("shared_input=True needs identical W_i weights in every encoder")

        d_h, d_in = first.W_i.weight.shape
        d_e = d_in - (first.W_o.weight.shape[1] - d_h)
        d_v = d_in - d_e
        bias = first.W_i.bias is not None
        dropout = first.dropout.p
        batched = cls(len(encoders), d_v, d_e, d_h, first.depth, dropout, bias, first.tau, shared_input)
        with torch.no_grad():
            if shared_input:
                batched.W_i.load_state_dict(first.W_i.state_dict())
            else:
                batched.W_i_weight.copy_(torch.stack([mp.W_i.weight for mp in encoders]))
                if bias:
                    batched.W_i_bias.copy_(torch.stack([mp.W_i.bias for mp in encoders]))
            batched.W_h_weight.copy_(torch.stack([mp.W_h.weight for mp in encoders]))
            if bias:
                batched.W_h_bias.copy_(torch.stack([mp.W_h.bias for mp in encoders]))
            batched.W_o_weight.copy_(torch.stack([mp.W_o.weight for mp in encoders]))
            batched.W_o_bias.copy_(torch.stack([mp.W_o.bias for mp in encoders]))
        return batched

    deduplicate_training: bool | None = None  # None: the environment variable decides

    def initial(self, bmg: BatchMolGraph) -> Tensor:
        """``h0 = W_i(x_src || e)``: ``[n_edges, d_h]`` if ``shared_input`` else ``[K, n_edges, d_h]``."""
        return self._project(torch.cat([bmg.V[bmg.edge_index[0]], bmg.E], dim=1))

    def _project(self, x: Tensor) -> Tensor:
        if self.shared_input:
            return self.W_i(x)
        h0 = torch.einsum("ei,khi->keh", x, self.W_i_weight)
        return h0 if self.W_i_bias is None else h0 + self.W_i_bias.unsqueeze(1)

    def forward(self, bmg: BatchMolGraph, h0: Tensor | None = None) -> Tensor:
        """Atom hidden vectors of all K encoders.

        ``h0`` defaults to :meth:`initial`. With ``shared_input`` it has shape
        ``[*S, n_edges, d_h]`` (any sample dims ``S``, e.g. ``[1 + M]`` for the clean input and M
        perturbations) and is broadcast to every encoder; otherwise ``[K, *S, n_edges, d_h]``.
        Returns ``[K, *S, n_atoms, d_h]``.
        """
        if h0 is None:
            plan = self._plan(bmg)
            if plan is not None:
                return self._forward_deduplicated(bmg, plan)
            h0 = self.initial(bmg)
        if self.shared_input:
            h0 = h0.unsqueeze(0)  # [1, *S, E, d_h]: one input for all K encoders, never copied K times
        elif h0.shape[0] != self.n_encoders:
            raise ValueError(f"h0 must have a leading axis of size K={self.n_encoders}, got {tuple(h0.shape)}")
        src, dst = bmg.edge_index
        n_atoms = bmg.V.shape[0]

        # H keeps a leading 1 until the first per-encoder W_h, so with a shared h0 the first message
        # sum is computed once for all encoders.
        H = self.tau(h0)
        for _ in range(1, self.depth):
            M = sum_into_atoms(H, dst, n_atoms).index_select(-2, src) - H.index_select(-2, bmg.rev_edge_index)
            H = self.dropout(self.tau(_stacked_affine(M, self.W_h_weight, self.W_h_bias, add=h0)))

        # W_o (x_v || m_v) split as W_o[:, :d_v] x_v + W_o[:, d_v:] m_v: the atom part is the same
        # for every sample, so it is computed once per encoder instead of concatenated K*|S| times.
        M_atoms = sum_into_atoms(H, dst, n_atoms)
        from_atoms = torch.einsum("ni,khi->knh", bmg.V, self.W_o_weight[:, :, : self.d_v])
        from_atoms = from_atoms.reshape(self.n_encoders, *(1,) * (M_atoms.dim() - 3), n_atoms, self.d_h)
        if M_atoms.dim() == 3:  # no sample dims: fuse the addition into the batched matmul
            H_atoms = _stacked_affine(M_atoms, self.W_o_weight[:, :, self.d_v :], self.W_o_bias, add=from_atoms)
        else:
            H_atoms = _stacked_affine(M_atoms, self.W_o_weight[:, :, self.d_v :], self.W_o_bias) + from_atoms
        return self.dropout(self.tau(H_atoms))

    def _plan(self, bmg: BatchMolGraph) -> TrainingPlan | None:
        """The environment labelling when the deduplicated forward applies, else None."""
        on = deduplicated_training_enabled() if self.deduplicate_training is None else self.deduplicate_training
        if not on or (self.training and self.dropout.p > 0) or bmg.V.requires_grad or bmg.E.requires_grad:
            return None  # dropout is per bond; a feature row's own gradient is not per label
        return training_plan(bmg, self.depth)

    def _forward_deduplicated(self, bmg: BatchMolGraph, plan: TrainingPlan) -> Tensor:
        """:meth:`forward` without ``h0``, one row per distinct environment, ``[K, n_atoms, d_h]``."""
        V = bmg.V
        h0 = self._project(torch.cat([V.index_select(0, plan.src0), bmg.E.index_select(0, plan.bond0)], dim=1))
        h0 = h0.unsqueeze(0) if self.shared_input else h0  # [1 or K, L_0, d_h]
        H = self.tau(h0)
        for h0_index, sums in zip(plan.h0_index, plan.messages):
            H = self.dropout(self.tau(_stacked_affine(sums(H), self.W_h_weight, self.W_h_bias,
                                                      add=h0.index_select(-2, h0_index))))
        from_atoms = torch.einsum("ni,khi->knh", V.index_select(0, plan.atom_rep), self.W_o_weight[:, :, : self.d_v])
        H_atoms = _stacked_affine(plan.atom_messages(H), self.W_o_weight[:, :, self.d_v :], self.W_o_bias,
                                  add=from_atoms)
        return self.dropout(self.tau(H_atoms)).index_select(-2, plan.atom_labels)

    def encode(self, bmg: BatchMolGraph, h0: Tensor | None = None) -> Tensor:
        """Molecule vectors ``[K, *S, n_mols, d_h]``: :meth:`forward` then the mean over atoms."""
        return aggregate(MEAN, self(bmg, h0), bmg.batch, len(bmg))
