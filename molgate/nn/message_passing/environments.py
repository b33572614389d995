r"""Exact labels of the local environments of a batch, for computing message passing once per
environment.

A directed bond's hidden vector after ``t`` message-passing steps is a function of its ``t``-hop
environment only: the atom and bond it starts from and, recursively, the environments of the bonds
that feed it (Weisfeiler-Lehman refinement on directed bonds):

.. math::

    \ell_0(vw) = (\ell(x_v), \ell(e_{vw})), \qquad
    \ell_t(vw) = \big(\ell_0(vw), \{\!\{\ell_{t-1}(uv) : u \in \mathcal N(v) \setminus w\}\!\}\big)

and an atom's output vector is a function of :math:`(\ell(x_v), \{\!\{\ell_{T-1}(wv)\}\!\})`.
The labels are computed with exact integer operations (sorting and ``torch.unique``, no
hashing). Atom and bond feature rows are told apart by a random projection and then checked
exactly; if two distinct rows ever met on the same projection the batch is not labelled (the
callers fall back to a plain path), so no result depends on luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from chemprop.data import BatchMolGraph
from torch import Tensor

_LIMIT = 2**62


def fold_rows(rows: Tensor, bases: list[int]) -> tuple[Tensor, int]:
    """Exact labels of the rows of a non-negative integer matrix: equal rows get equal labels.

    ``bases[j]`` bounds column ``j``. Columns are packed into int64 as mixed-radix numbers, as
    many at a time as fit, and renumbered densely with ``torch.unique`` between packs.
    Returns ``(labels, number_of_labels)``.
    """
    labels, n_labels = torch.zeros(rows.shape[0], dtype=torch.long, device=rows.device), 1
    for j in range(rows.shape[1]):
        if n_labels * bases[j] >= _LIMIT:
            _, labels = torch.unique(labels, return_inverse=True)
            n_labels = int(labels.max()) + 1 if len(labels) else 1
        labels = labels * bases[j] + rows[:, j]
        n_labels *= bases[j]
    if len(labels) == 0:
        return labels, 0
    _, labels = torch.unique(labels, return_inverse=True)
    return labels, int(labels.max()) + 1


def first_members(labels: Tensor, n_labels: int) -> Tensor:
    """For each label, the first row carrying it (deterministic representatives)."""
    idx = torch.arange(len(labels), device=labels.device)
    return torch.full((n_labels,), len(labels), dtype=torch.long, device=labels.device).scatter_reduce_(
        0, labels, idx, "amin")


def row_labels(X: Tensor, weights: Tensor | None = None) -> tuple[Tensor, int] | None:
    """Labels of equal rows of a feature matrix, or ``None`` if two distinct rows met on the
    projection onto ``weights`` (random by default)."""
    if X.shape[1] == 0 or X.shape[0] == 0:
        return torch.zeros(X.shape[0], dtype=torch.long, device=X.device), 1
    if weights is None:
        g = torch.Generator().manual_seed(0)
        weights = torch.rand(X.shape[1], dtype=torch.float64, generator=g) + 0.5
    weights = weights.to(X.device)
    _, labels = torch.unique(X.double() @ weights, return_inverse=True)
    n = int(labels.max()) + 1
    if not torch.equal(X[first_members(labels, n)][labels], X):  # distinct rows, same projection
        return None
    return labels, n


@dataclass
class Environments:
    """The distinct environments of a batch: weight-free, so one labelling serves any encoder.

    ``bond_labels[t]`` labels every directed bond by its ``t``-hop environment (``bond_counts[t]``
    distinct ones), ``t = 0 .. depth-1``; ``atom_labels`` every atom by the environment its output
    vector depends on. ``in_edges [n_atoms, max_degree]`` lists each atom's incoming bonds, padded
    with the sentinel ``n_edges``.
    """

    bond_labels: list[Tensor]
    bond_counts: list[int]
    atom_labels: Tensor
    atom_count: int
    in_edges: Tensor


def padded_labels(labels: Tensor, n_labels: int) -> Tensor:
    """``labels`` plus one for the padding bond ``n_edges`` of :func:`incoming_edges`."""
    return torch.cat([labels, labels.new_tensor([n_labels])])  # the sentinel bond gets label n_labels


def neighbourhood_labels(own: Tensor, n_own: int, edges: Tensor, labels: Tensor, n_labels: int):
    """One refinement step: a row's own label and the sorted labels of the ``edges`` feeding it."""
    rows = torch.cat([own.unsqueeze(1), padded_labels(labels, n_labels)[edges].sort(dim=1).values], dim=1)
    return fold_rows(rows, [n_own] + [n_labels + 1] * edges.shape[1])


def incoming_edges(dst: Tensor, n_atoms: int) -> Tensor:
    """``[n_atoms, max_degree]``: each atom's incoming directed bonds, padded with ``len(dst)``."""
    n_edges = len(dst)
    degree = torch.bincount(dst, minlength=n_atoms)
    order = torch.argsort(dst, stable=True)
    slot = torch.arange(n_edges, device=dst.device) - (torch.cumsum(degree, 0) - degree)[dst[order]]
    in_edges = torch.full((n_atoms, int(degree.max())), n_edges, dtype=torch.long, device=dst.device)
    in_edges[dst[order], slot] = order
    return in_edges


def environments(bmg: BatchMolGraph, depth: int) -> Environments | None:
    """Label the batch's environments for ``depth`` steps of bond message passing (``None`` for a
    batch without bonds, or if atom or bond feature rows could not be told apart exactly)."""
    V, E = bmg.V, bmg.E
    src, dst = bmg.edge_index
    rev = bmg.rev_edge_index
    n_atoms, n_edges = V.shape[0], E.shape[0]
    atom_rows = row_labels(V)
    bond_rows = row_labels(E) if n_edges else None
    if n_edges == 0 or atom_rows is None or bond_rows is None:
        return None
    in_edges = incoming_edges(dst, n_atoms)
    feeding = in_edges[src]  # the bonds whose messages reach each bond's first atom ...
    feeding = feeding.masked_fill(feeding == rev.unsqueeze(1), n_edges)  # ... except its reverse
    label, n = fold_rows(torch.stack([atom_rows[0][src], bond_rows[0]], dim=1), [atom_rows[1], bond_rows[1]])
    labels, counts = [label], [n]  # level 0: the bond's first atom and the bond itself
    for _ in range(1, depth):
        label, n = neighbourhood_labels(labels[0], counts[0], feeding, label, n)
        labels.append(label)
        counts.append(n)
    atom_label, n_atom = neighbourhood_labels(atom_rows[0], atom_rows[1], in_edges, label, n)
    return Environments(labels, counts, atom_label, n_atom, in_edges)
