r"""How a D-MPNN pools its atom vectors into one molecule vector.

Chemprop's three, and one of ours:

.. math::

    \mathrm{mean}: \frac{1}{n}\sum_v h_v \qquad
    \mathrm{sum}: \sum_v h_v \qquad
    \mathrm{norm}: \frac{1}{100}\sum_v h_v \qquad
    \mathrm{mean{+}norm}: \Big[\frac{1}{n}\sum_v h_v \,\Big\|\, \frac{1}{100}\sum_v h_v\Big]

with :math:`n` the molecule's atom count. ``mean`` hides the molecule's size, which additive
(extensive) properties such as parachor and the enthalpy of vaporisation scale with; ``norm``
keeps it, and costs intensive properties (dielectric constant, hydration free energy) accuracy
(``benchmarks/aggregation_trial.py``). ``mean+norm`` (ours, not Chemprop's) gives every head both,
at twice the width: the molecule vector has ``2 d_h`` columns.
"""

from __future__ import annotations

import torch
from chemprop.nn.agg import Aggregation, MeanAggregation, NormAggregation, SumAggregation
from torch import Tensor


class MeanNormAggregation(Aggregation):
    """The mean and the ``norm`` sum of the atom vectors side by side: ``[n_atoms, d] -> [n_mols, 2 d]``."""

    width = 2

    def __init__(self, dim: int = 0, *args, norm: float = 100.0, **kwargs):
        super().__init__(dim, **kwargs)
        self.norm = norm
        self.hparams["norm"] = norm
        self.mean, self.normed = MeanAggregation(dim), NormAggregation(dim, norm=norm)

    def forward(self, H: Tensor, batch: Tensor) -> Tensor:
        # Chemprop's own two; :func:`~molgate.nn.message_passing.sums.aggregate` is the fast path
        return torch.cat([self.mean(H, batch), self.normed(H, batch)], dim=-1)


AGGREGATIONS = {"mean": MeanAggregation, "sum": SumAggregation, "norm": NormAggregation,
                "mean+norm": MeanNormAggregation}
#: the ones ``chemprop train --aggregation`` knows
CHEMPROP_AGGREGATIONS = ("mean", "sum", "norm")


def pooled_width(aggregation: str, hidden_size: int) -> int:
    """The molecule vector's width after ``aggregation`` of ``hidden_size``-wide atom vectors."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {sorted(AGGREGATIONS)}, not {aggregation!r}")
    return hidden_size * getattr(AGGREGATIONS[aggregation], "width", 1)


__all__ = ["AGGREGATIONS", "CHEMPROP_AGGREGATIONS", "MeanNormAggregation", "pooled_width"]
