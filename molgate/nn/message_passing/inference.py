r"""Chemprop's bond message passing, computed for inference with fewer and cheaper kernels.

Same weights, same equations as :class:`chemprop.nn.message_passing.BondMessagePassing` (so the
same function up to float summation order); it is what makes screening fast on a CPU, where
chemprop's forward spends more time moving memory than multiplying:

* ``W_i (x_src || e)`` is split into ``(W_i^v x)[src] + W_i^e e``: the atom part is multiplied once
  per atom instead of once per directed bond, and the concatenated input is never built;
* messages are summed into atoms (and atoms into molecules) with one ``index_add_``
  (:mod:`molgate.nn.message_passing.sums`);
* the residual ``h0 + W_h m`` and ``W_o (x || m) + b`` are fused matrix products (``addmm``), and
  the ReLU and the reverse-edge subtraction run in place.

Only for inference (no autograd: the in-place steps would break a backward pass) and only for the
configuration molgate builds: directed, ReLU, no vertex descriptors, no graph transform. Anything
else falls back to chemprop's own forward (:func:`supports_fast_inference`).
"""

from __future__ import annotations

import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.message_passing import BondMessagePassing
from torch import Tensor, nn

from molgate.nn.message_passing.sums import sum_into_atoms


def supports_fast_inference(mp: nn.Module) -> bool:
    """The configuration molgate builds: directed, ReLU, no vertex descriptors or graph transform."""
    return (isinstance(mp, BondMessagePassing) and not mp.undirected and mp.W_d is None
            and isinstance(mp.tau, nn.ReLU) and isinstance(mp.graph_transform, nn.Identity))


@torch.no_grad()
def bond_message_passing_inference(mp: BondMessagePassing, bmg: BatchMolGraph) -> Tensor:
    """Atom hidden vectors ``[n_atoms, d_h]``, as ``mp(bmg)`` in eval mode."""
    V, E = bmg.V, bmg.E
    src, dst = bmg.edge_index
    d_v = V.shape[1]
    W_i = mp.W_i.weight
    h0 = torch.mm(V, W_i[:, :d_v].t()).index_select(0, src)
    h0 = torch.addmm(h0, E.to(h0.dtype), W_i[:, d_v:].t().to(h0.dtype))
    if mp.W_i.bias is not None:
        h0 += mp.W_i.bias
    H = torch.relu(h0)
    for _ in range(1, mp.depth):
        M = sum_into_atoms(H, dst, V.shape[0]).index_select(0, src).sub_(H.index_select(0, bmg.rev_edge_index))
        H = torch.addmm(h0, M, mp.W_h.weight.t())
        if mp.W_h.bias is not None:
            H += mp.W_h.bias
        H.relu_()
    W_o = mp.W_o.weight
    out = torch.addmm(mp.W_o.bias, V, W_o[:, :d_v].t())
    out = torch.addmm(out, sum_into_atoms(H, dst, V.shape[0]).to(out.dtype), W_o[:, d_v:].t().to(out.dtype))
    return out.relu_()
