"""STL: one independent D-MPNN per task, each trained only on its own task's molecules.

The saved model holds the K single-task networks side by side; each is an :class:`MTLModel` with
one task, so STL and MTL differ only in what is shared.
"""

from __future__ import annotations

import torch
from chemprop.data.collate import BatchMolGraph
from torch import Tensor, nn

from molgate.methods.base import EncoderConfig, PropertyModel
from molgate.methods.mtl import MTLModel


class STLModel(PropertyModel):
    method = "stl"

    def __init__(self, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig | None = None):
        config = config or EncoderConfig()
        super().__init__(n_tasks, d_v, d_e, config)
        self.members = nn.ModuleList(MTLModel(1, d_v, d_e, config) for _ in range(n_tasks))

    def forward(self, bmg: BatchMolGraph) -> Tensor:
        return torch.cat([m(bmg) for m in self.members], dim=1)

    def sync_scaler(self) -> None:
        """The joint scaler is the members' scalers side by side (each fitted on its own task)."""
        self.scaler.mean.copy_(torch.cat([m.scaler.mean for m in self.members]))
        self.scaler.std.copy_(torch.cat([m.scaler.std for m in self.members]))
