r"""Chemprop's bond message passing for inference, computed once per distinct local environment.

A batch of a screening library repeats environments massively (aromatic C-H, CH2 chains, the same
building blocks): in a batch of 1,024 molecules typically a few per cent of the directed bonds have
a distinct 2-hop environment, and a third to a half of the atoms a distinct 3-hop one. So the
environments are labelled first (:mod:`molgate.nn.message_passing.environments`) and the matrix
products, which are most of the cost, run once per label instead of once per bond:

.. math::

    H^{(t)}[L] = \tau\Big(H^{(0)}[\ell_0(b_L)] + \mathbf W_h \big(\textstyle\sum_{u \in \mathcal N(v)}
                 H^{(t-1)}[\ell_{t-1}(uv)] - H^{(t-1)}[\ell_{t-1}(wv)]\big)\Big)

with ``b_L = vw`` the first bond carrying label ``L``. It is the same function as
:class:`chemprop.nn.message_passing.BondMessagePassing` in eval mode, with the same weights and
equations, up to float summation order (tested). A batch that cannot be labelled falls back to
:func:`~molgate.nn.message_passing.inference.bond_message_passing_inference`.
"""

from __future__ import annotations

import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.message_passing import BondMessagePassing
from torch import Tensor

from molgate.nn.message_passing.environments import environments, first_members, padded_labels
from molgate.nn.message_passing.inference import bond_message_passing_inference


@torch.no_grad()
def bond_message_passing_deduplicated(mp: BondMessagePassing, bmg: BatchMolGraph) -> Tensor:
    """Atom hidden vectors ``[n_atoms, d_h]``, as ``mp(bmg)`` in eval mode."""
    env = environments(bmg, mp.depth)
    if env is None:
        return bond_message_passing_inference(mp, bmg)
    V, E = bmg.V, bmg.E
    src = bmg.edge_index[0]
    rev = bmg.rev_edge_index
    d_v = V.shape[1]
    label0 = env.bond_labels[0]
    rep0 = first_members(label0, env.bond_counts[0])
    W_i = mp.W_i.weight
    h0 = torch.addmm(torch.mm(V[src[rep0]], W_i[:, :d_v].t()), E[rep0].to(V.dtype), W_i[:, d_v:].t())
    if mp.W_i.bias is not None:
        h0 += mp.W_i.bias
    H = torch.relu(h0)  # one row per environment
    for t in range(1, mp.depth):
        previous, n_previous = env.bond_labels[t - 1], env.bond_counts[t - 1]
        rep = first_members(env.bond_labels[t], env.bond_counts[t])
        H_pad = torch.cat([H, H.new_zeros(1, H.shape[1])])
        # as chemprop: the sum over all incoming bonds, then minus the reverse bond
        summed = H_pad[padded_labels(previous, n_previous)[env.in_edges[src[rep]]]].sum(dim=1)
        M = summed.sub_(H[previous[rev[rep]]])
        H = torch.addmm(h0[label0[rep]], M, mp.W_h.weight.t())
        if mp.W_h.bias is not None:
            H += mp.W_h.bias
        H.relu_()
    last, n_last = env.bond_labels[-1], env.bond_counts[-1]
    rep_atom = first_members(env.atom_labels, env.atom_count)
    H_pad = torch.cat([H, H.new_zeros(1, H.shape[1])])
    M_atom = H_pad[padded_labels(last, n_last)[env.in_edges[rep_atom]]].sum(dim=1)
    W_o = mp.W_o.weight
    out = torch.addmm(mp.W_o.bias, V[rep_atom], W_o[:, :d_v].t())
    out = torch.addmm(out, M_atom.to(out.dtype), W_o[:, d_v:].t().to(out.dtype)).relu_()
    return out[env.atom_labels]
