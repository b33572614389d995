"""The molecule encoder: Chemprop's directed bond message passing followed by an aggregation.

``h_mol = agg_{atoms}( BondMessagePassing(graph) )`` with Chemprop's defaults (hidden 300, depth 3).
Aggregation is ``mean`` by default (the D-MPNN paper's choice; Chemprop v2's CLI defaults to
``norm``, a sum divided by 100).
"""

from __future__ import annotations

from chemprop.data.collate import BatchMolGraph
from chemprop.nn.agg import MeanAggregation, NormAggregation, SumAggregation
from chemprop.nn.message_passing import BondMessagePassing
from torch import Tensor, nn

AGGREGATIONS = {"mean": MeanAggregation, "sum": SumAggregation, "norm": NormAggregation}


class MoleculeEncoder(nn.Module):
    """Graph -> one vector per molecule."""

    def __init__(self, d_v: int, d_e: int, hidden_size: int = 300, depth: int = 3,
                 dropout: float = 0.0, aggregation: str = "mean"):
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {sorted(AGGREGATIONS)}")
        self.message_passing = BondMessagePassing(d_v, d_e, hidden_size, depth=depth, dropout=dropout)
        self.aggregation = AGGREGATIONS[aggregation]()
        self.output_dim = hidden_size

    def forward(self, bmg: BatchMolGraph) -> Tensor:
        return self.aggregation(self.message_passing(bmg), bmg.batch)
