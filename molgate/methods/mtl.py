"""MTL: one shared D-MPNN, one head per task, trained with a loss masked over missing labels."""

from __future__ import annotations

from chemprop.data.collate import BatchMolGraph
from torch import Tensor

from molgate.methods.base import EncoderConfig, PropertyModel
from molgate.nn.dmpnn import MoleculeEncoder
from molgate.nn.heads import TaskHeads


class MTLModel(PropertyModel):
    method = "mtl"

    def __init__(self, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig | None = None):
        config = config or EncoderConfig()
        super().__init__(n_tasks, d_v, d_e, config)
        self.encoder = MoleculeEncoder(d_v, d_e, config.hidden_size, config.depth, config.dropout,
                                       config.aggregation)
        self.heads = TaskHeads(n_tasks, self.encoder.output_dim, config.ffn_hidden_size,
                               config.ffn_layers, config.dropout)

    def forward(self, bmg: BatchMolGraph) -> Tensor:
        return self.heads(self.encoder(bmg))

    def parameter_groups(self) -> dict[str, list]:
        return {"encoders": list(self.encoder.parameters())}
