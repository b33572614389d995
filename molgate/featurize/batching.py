"""Batches for training: a ``BatchMolGraph`` plus standardised labels and their mask.

Missing labels are NaN in the table; the mask is computed once here and travels with the batch, so
every loss can exclude them without looking at NaN again.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
from chemprop.data.collate import BatchMolGraph
from chemprop.data.molgraph import MolGraph
from torch.utils.data import DataLoader, Dataset, get_worker_info

from molgate.nn.message_passing.environment_cache import DatasetEnvironments, LabelledBatchMolGraph


class GraphBatch(NamedTuple):
    bmg: BatchMolGraph
    y: torch.Tensor  # [B, K] standardised, 0 where missing
    mask: torch.Tensor  # [B, K] bool, True where a label exists
    context: torch.Tensor | None = None  # [B, C] precomputed per-molecule inputs (e.g. a frozen model's)


class GraphDataset(Dataset):
    """Graphs and (optionally) labels and precomputed per-molecule context, indexed by molecule."""

    def __init__(self, graphs: Sequence[MolGraph], y: np.ndarray | None = None,
                 context: np.ndarray | None = None):
        self.graphs = list(graphs)
        n = len(self.graphs)
        if context is not None and len(context) != n:
            raise ValueError(f"context has {len(context)} rows for {n} graphs")
        self.context = None if context is None else np.asarray(context, dtype=np.float32)
        y = np.zeros((n, 0)) if y is None else np.asarray(y, dtype=np.float32).reshape(n, -1)
        self.mask = ~np.isnan(y)
        self.y = np.where(self.mask, y, 0.0).astype(np.float32)
        self._environments: DatasetEnvironments | None = None

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int) -> int:
        return i

    def batch_graph(self, idx: np.ndarray) -> BatchMolGraph:
        """The molecules ``idx`` as one graph. In the training process it can reuse the whole
        set's environment labels (computed once, on the first deduplicated training step); a
        loader worker builds a plain one, as the labels would otherwise travel with every batch."""
        if get_worker_info() is not None:
            return BatchMolGraph([self.graphs[i] for i in idx])
        if self._environments is None:
            self._environments = DatasetEnvironments(self.graphs)
        return LabelledBatchMolGraph(self._environments, idx)

    def collate(self, indices: list[int]) -> GraphBatch:
        idx = np.asarray(indices, dtype=np.int64)
        return GraphBatch(self.batch_graph(idx),
                          torch.from_numpy(self.y[idx]), torch.from_numpy(self.mask[idx]),
                          None if self.context is None else torch.from_numpy(self.context[idx]))


def make_loader(dataset: GraphDataset, batch_size: int = 64, shuffle: bool = False,
                seed: int = 0, num_workers: int = 0) -> DataLoader:
    """A seeded loader: the same seed gives the same batches in the same order."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=dataset.collate, num_workers=num_workers)
