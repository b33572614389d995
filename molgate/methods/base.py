"""What every molgate model shares: hyperparameters, a target scaler, prediction in units.

A model maps a ``BatchMolGraph`` to standardised predictions ``[B, K]`` (one column per task);
``predict_units`` undoes the standardisation with the scaler fitted on the training split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from chemprop.data.collate import BatchMolGraph
from torch import Tensor, nn

from molgate.nn.transforms import TargetScaler
from molgate.methods.regression import default_reduction, regression_loss


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
    #: modules kept in eval mode while the rest trains (a task addition's frozen parts): fit_model
    #: then does not pass on Lightning's warning about them
    keeps_parts_in_eval: bool = False

    def __init__(self, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig):
        super().__init__()
        self.n_tasks, self.d_v, self.d_e, self.config = n_tasks, d_v, d_e, config
        self.scaler = TargetScaler(n_tasks)

    def forward(self, bmg: BatchMolGraph) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def reduction(self) -> str:
        """The regression loss's reduction (:mod:`molgate.methods.regression`); set by the trainer."""
        return getattr(self, "_reduction", None) or default_reduction(self.method)

    @reduction.setter
    def reduction(self, value: str) -> None:
        self._reduction = value

    def loss_terms(self, batch) -> tuple[dict[str, Tensor], dict[str, float]]:
        """The training loss's terms (with their graphs) and their weights: the loss is
        ``sum(weights[n] * terms[n])``. Baselines have the regression term alone."""
        return {"reg": regression_loss(self(batch.bmg), batch.y, batch.mask, self.reduction)}, {"reg": 1.0}

    def training_loss(self, batch) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss to minimise on a training batch and its (detached) parts for the log."""
        terms, weights = self.loss_terms(batch)
        loss = sum(weights[name] * value for name, value in terms.items())
        return loss, {**{name: value.detach() for name, value in terms.items()}, "total": loss.detach()}

    def parameter_groups(self) -> dict[str, list]:
        """Named groups of parameters whose gradient norms the term diagnostics log."""
        return {}

    @classmethod
    def from_config(cls, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig,
                    extra: dict) -> "PropertyModel":
        """Rebuild from saved settings (``extra`` = what :meth:`extra_config` wrote, in config.json)."""
        return cls(n_tasks, d_v, d_e, config)

    def extra_config(self) -> dict:
        """Settings beyond :class:`EncoderConfig` that rebuild this model (saved in config.json)."""
        return {}

    @torch.no_grad()
    def predict_units(self, bmg: BatchMolGraph) -> Tensor:
        return self.scaler.inverse(self(bmg))
