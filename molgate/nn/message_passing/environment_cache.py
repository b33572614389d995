"""Environment labels of a whole molecule set, computed once and sliced for every batch.

Labelling a training batch from scratch (:func:`~molgate.nn.message_passing.environments.
environments`) costs about a tenth of a deduplicated training step on a CPU, and an epoch relabels
the same molecules in new combinations. So the training set is labelled once, as one graph: the
labels are then exact across the whole set (equal labels iff equal environments), and a batch's
labels are its molecules' global ones renumbered densely (``torch.unique``), which is exact too.
Only the atom labels are recomputed per batch (one fold of the last bond level), since they depend
on the encoder's depth.

:class:`LabelledBatchMolGraph` is a chemprop ``BatchMolGraph`` that remembers where its molecules
come from, so the encoder can find the set's labels; any other batch is labelled on its own.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from chemprop.data import BatchMolGraph
from chemprop.data.molgraph import MolGraph
from torch import Tensor

from molgate.nn.message_passing.environments import (Environments, environments, incoming_edges,
                                                     neighbourhood_labels, row_labels)


class DatasetEnvironments:
    """Global labels of ``graphs`` for each depth asked for, computed on first use."""

    def __init__(self, graphs: Sequence[MolGraph]):
        self.graphs = graphs  # nothing is computed until a training step asks (predictions never do)
        self._by_depth: dict[int, tuple | None] = {}

    def __getstate__(self):
        # a copy sent to a loader worker relabels there if asked; never ship the labels around
        return {**self.__dict__, "_by_depth": {}}

    def _global(self, depth: int) -> tuple | None:
        """``(bond labels per level, atom feature-row labels)`` of the whole set, or ``None``."""
        if depth not in self._by_depth:
            entry = None
            if len(self.graphs):
                with torch.no_grad():
                    bmg = BatchMolGraph(self.graphs)
                    env = environments(bmg, depth)
                    rows = None if env is None else row_labels(bmg.V)
                if rows is not None:
                    entry = (env.bond_labels, rows[0])
            self._by_depth[depth] = entry
            self.atom_offsets = np.concatenate([[0], np.cumsum([len(g.V) for g in self.graphs])])
            self.edge_offsets = np.concatenate([[0], np.cumsum([g.edge_index.shape[1] for g in self.graphs])])
        return self._by_depth[depth]

    def batch_environments(self, indices: np.ndarray, bmg: BatchMolGraph, depth: int) -> Environments | None:
        """The batch's environments from the set's labels (``None``: label the batch itself)."""
        found = self._global(depth)
        if found is None or bmg.E.shape[0] == 0:
            return None
        bond_labels, atom_rows = found
        device = bmg.V.device
        edges = _ranges(self.edge_offsets, indices)
        atoms = _ranges(self.atom_offsets, indices)
        if len(edges) != bmg.E.shape[0] or len(atoms) != bmg.V.shape[0]:
            raise ValueError("the batch does not hold the molecules it names")
        labels, counts = [], []
        for t in range(depth):
            _, local = torch.unique(bond_labels[t][edges], return_inverse=True)
            labels.append(local.to(device))
            counts.append(int(local.max()) + 1)
        _, own = torch.unique(atom_rows[atoms], return_inverse=True)
        own = own.to(device)
        in_edges = incoming_edges(bmg.edge_index[1], bmg.V.shape[0])
        atom_label, n_atom = neighbourhood_labels(own, int(own.max()) + 1, in_edges, labels[-1], counts[-1])
        return Environments(labels, counts, atom_label, n_atom, in_edges)


def _ranges(offsets: np.ndarray, indices: np.ndarray) -> Tensor:
    """The concatenated ``arange(offsets[i], offsets[i + 1])`` for ``i`` in ``indices``."""
    starts, sizes = offsets[indices], offsets[indices + 1] - offsets[indices]
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return torch.from_numpy(np.repeat(starts, sizes) + within)


class LabelledBatchMolGraph(BatchMolGraph):
    """A ``BatchMolGraph`` of ``source.graphs[indices]`` that can use the set's labels."""

    def __init__(self, source: DatasetEnvironments, indices: Sequence[int]):
        indices = np.asarray(indices, dtype=np.int64)
        super().__init__([source.graphs[i] for i in indices])
        self.environment_source = source
        self.molecule_indices = indices

    def environments(self, depth: int) -> Environments | None:
        return self.environment_source.batch_environments(self.molecule_indices, self, depth)
