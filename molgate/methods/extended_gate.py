"""A pre-trained GATE plus tasks added later (gate-spec section 7): the model ``add-task`` saves.

The model is a list of *parts*: the pre-trained :class:`GATEModel` (K tasks) followed by one
single-task :class:`GATEModel` per added task, each with its own encoder, Transfer, Inverse and
Head. Predictions are the parts' columns side by side, each part computed exactly as it was on its
own, so the old tasks' predictions are bit-for-bit those of the original model. All parts map
into the same LF frame, which is what the added tasks were aligned to.
"""

from __future__ import annotations

import torch
from chemprop.data.collate import BatchMolGraph
from torch import Tensor, nn

from molgate.methods.base import EncoderConfig, PropertyModel
from molgate.methods.gate import GATEModel, GateConfig


class ExtendedGATEModel(PropertyModel):
    method = "gate-extended"

    def __init__(self, base: GATEModel, added: list[GATEModel]):
        n_tasks = base.n_tasks + sum(a.n_tasks for a in added)
        super().__init__(n_tasks, base.d_v, base.d_e, base.config)
        self.base = base
        self.added = nn.ModuleList(added)
        self.sync_scaler()

    @property
    def parts(self) -> list[GATEModel]:
        return [self.base, *self.added]

    def sync_scaler(self) -> None:
        """The combined scaler is the parts' scalers side by side."""
        with torch.no_grad():
            self.scaler.mean.copy_(torch.cat([p.scaler.mean for p in self.parts]))
            self.scaler.std.copy_(torch.cat([p.scaler.std for p in self.parts]))

    def forward(self, bmg: BatchMolGraph) -> Tensor:
        return torch.cat([p(bmg) for p in self.parts], dim=1)

    def latents(self, bmg: BatchMolGraph) -> Tensor:
        return torch.cat([p.latents(bmg) for p in self.parts])

    def lf_points(self, bmg: BatchMolGraph) -> tuple[Tensor, Tensor]:
        views = [p.lf_points(bmg) for p in self.parts]
        return torch.cat([z for z, _ in views]), torch.cat([u for _, u in views])

    def extra_config(self) -> dict:
        return {"base": {"n_tasks": self.base.n_tasks, "gate": self.base.gate.to_dict()},
                "added": [{"n_tasks": a.n_tasks, "gate": a.gate.to_dict()} for a in self.added]}

    @classmethod
    def from_config(cls, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig,
                    extra: dict) -> "ExtendedGATEModel":
        base = GATEModel(extra["base"]["n_tasks"], d_v, d_e, config, GateConfig(**extra["base"]["gate"]))
        added = [GATEModel(a["n_tasks"], d_v, d_e, config, GateConfig(**a["gate"])) for a in extra["added"]]
        return cls(base, added)


def gate_parts(model: GATEModel | ExtendedGATEModel) -> list[GATEModel]:
    """The single GATE models a (possibly extended) GATE is made of."""
    return model.parts if isinstance(model, ExtendedGATEModel) else [model]


def extend(model: GATEModel | ExtendedGATEModel, new: GATEModel) -> ExtendedGATEModel:
    """``model`` with ``new`` appended as one more part (the parts themselves are shared)."""
    parts = gate_parts(model)
    return ExtendedGATEModel(parts[0], [*parts[1:], new])
