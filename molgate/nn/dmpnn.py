"""The molecule encoder: Chemprop's directed bond message passing followed by an aggregation.

``h_mol = agg_{atoms}( BondMessagePassing(graph) )`` with Chemprop's defaults (hidden 300, depth 3).
Aggregation is ``mean`` by default (the D-MPNN paper's choice; Chemprop v2's CLI defaults to
``norm``, a sum divided by 100); :mod:`molgate.nn.pooling` has the choices.

The message passing is chemprop's function, computed once per distinct environment: without
autograd by :mod:`molgate.nn.message_passing.deduplicated` (screening, validation), with autograd
by :mod:`molgate.nn.message_passing.training` (training, 2-3x faster per step on a CPU). Setting
``MOLGATE_DEDUP_TRAINING=0`` (or ``encoder.deduplicate_training = False``) trains with chemprop's
own forward instead, to compare the two.
"""

from __future__ import annotations

from chemprop.data.collate import BatchMolGraph
from chemprop.nn.message_passing import BondMessagePassing
import torch
from torch import Tensor, nn

from molgate.nn.message_passing.deduplicated import bond_message_passing_deduplicated
from molgate.nn.message_passing.inference import supports_fast_inference
from molgate.nn.message_passing.sums import aggregate
from molgate.nn.message_passing.training import (DEDUP_TRAINING_ENV, bond_message_passing_training,
                                                 deduplicated_training_enabled, supports_deduplicated_training)
from molgate.nn.pooling import AGGREGATIONS, pooled_width


class MoleculeEncoder(nn.Module):
    """Graph -> one vector per molecule."""

    deduplicate_training: bool | None = None  # None: the environment variable decides

    def __init__(self, d_v: int, d_e: int, hidden_size: int = 300, depth: int = 3,
                 dropout: float = 0.0, aggregation: str = "mean"):
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {sorted(AGGREGATIONS)}")
        self.message_passing = BondMessagePassing(d_v, d_e, hidden_size, depth=depth, dropout=dropout)
        self.aggregation = AGGREGATIONS[aggregation]()
        self.output_dim = pooled_width(aggregation, hidden_size)

    def uses_deduplicated_training(self) -> bool:
        on = self.deduplicate_training
        on = deduplicated_training_enabled() if on is None else on
        return on and supports_deduplicated_training(self.message_passing)

    def forward(self, bmg: BatchMolGraph) -> Tensor:
        mp = self.message_passing
        if not torch.is_grad_enabled() and not self.training and supports_fast_inference(mp):
            # the same function, computed once per distinct environment: 5-15x faster on a CPU
            return aggregate(self.aggregation, bond_message_passing_deduplicated(mp, bmg), bmg.batch)
        if self.uses_deduplicated_training():
            # the same function with gradients, once per distinct environment
            return aggregate(self.aggregation, bond_message_passing_training(mp, bmg), bmg.batch)
        return self.aggregation(mp(bmg), bmg.batch)
