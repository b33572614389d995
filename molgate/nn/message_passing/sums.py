r"""The two sums every form of message passing shares: messages into atoms, atoms into molecules.

.. math::

    m_v = \sum_{w \in \mathcal N(v)} h_{wv} \qquad\qquad
    h_{\mathrm{mol}} = \frac{1}{Z} \sum_{v \in \mathrm{mol}} h_v

with :math:`Z` the molecule's atom count (``mean``), 1 (``sum``) or Chemprop's ``norm`` constant
(``mean+norm``: the first and the last side by side).
Both are one ``index_add`` over the row axis: Chemprop's ``scatter_reduce_`` over an index
repeated to the full hidden width moves more memory for the same result. Any leading axes (the K
encoders of :mod:`~molgate.nn.message_passing.batched`, perturbation samples) are carried along.
"""

from __future__ import annotations

import torch
from chemprop.nn.agg import MeanAggregation, NormAggregation, SumAggregation
from torch import Tensor, nn

from molgate.nn.pooling import MeanNormAggregation

MEAN = MeanAggregation()
INDEX_ADD_AGGREGATIONS = (MeanAggregation, SumAggregation, NormAggregation, MeanNormAggregation)


def sum_into_atoms(H: Tensor, dst: Tensor, n_atoms: int) -> Tensor:
    """Sum edge rows into their destination atoms: ``[..., n_edges, d] -> [..., n_atoms, d]``."""
    return H.new_zeros(*H.shape[:-2], n_atoms, H.shape[-1]).index_add_(-2, dst, H)


def aggregate(agg: nn.Module, H: Tensor, batch: Tensor, n_mols: int | None = None) -> Tensor:
    """Chemprop's mean, sum or norm aggregation (or our ``mean+norm``) of atom rows into molecules,
    differentiable: ``H [..., n_atoms, d] -> [..., n_mols, d]`` (``2 d`` for ``mean+norm``; other
    aggregations: Chemprop's own, 2-D only).

    A molecule with no atoms is featurised by Chemprop as one zero atom, so every molecule owns a
    row and the mean never divides by zero.
    """
    if type(agg) not in INDEX_ADD_AGGREGATIONS or len(batch) == 0:
        return agg(H, batch)
    n_mols = int(batch.max()) + 1 if n_mols is None else n_mols
    out = sum_into_atoms(H, batch, n_mols)
    if type(agg) in (MeanAggregation, MeanNormAggregation):
        mean = out / torch.bincount(batch, minlength=n_mols).clamp_(min=1).unsqueeze(-1).to(out.dtype)
        return mean if type(agg) is MeanAggregation else torch.cat([mean, out / agg.norm], dim=-1)
    if type(agg) is NormAggregation:
        return out / agg.norm
    return out
