"""What every molgate model shares: hyperparameters, a target scaler, prediction in units.

A model maps a ``BatchMolGraph`` to standardised predictions ``[B, K]`` (one column per task);
``predict_units`` undoes the standardisation with the scaler fitted on the training split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from chemprop.data.collate import BatchMolGraph
from torch import Tensor, nn

from molgate.nn.heads import TargetScaler
from molgate.train.losses import masked_mse


@dataclass
class EncoderConfig:
    """D-MPNN and head sizes; the defaults are Chemprop's."""

    hidden_size: int = 300
    depth: int = 3
    dropout: float = 0.0
    aggregation: str = "mean"
    ffn_hidden_size: int = 300
    ffn_layers: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


class PropertyModel(nn.Module):
    """Base class: subclasses define ``forward(bmg) -> [B, K]`` in standardised units."""

    method: str = ""

    def __init__(self, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig):
        super().__init__()
        self.n_tasks, self.d_v, self.d_e, self.config = n_tasks, d_v, d_e, config
        self.scaler = TargetScaler(n_tasks)

    def forward(self, bmg: BatchMolGraph) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def training_loss(self, batch) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss to minimise on a training batch and its parts for the log.

        Baselines minimise the masked MSE over labelled entries (as Chemprop does); GATE adds its
        alignment terms.
        """
        loss = masked_mse(self(batch.bmg), batch.y, batch.mask)
        return loss, {"reg": loss.detach()}

    def extra_config(self) -> dict:
        """Settings beyond :class:`EncoderConfig` that rebuild this model (saved in config.json)."""
        return {}

    @torch.no_grad()
    def predict_units(self, bmg: BatchMolGraph) -> Tensor:
        return self.scaler.inverse(self(bmg))
