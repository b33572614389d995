"""One file per method; ``MODELS`` maps a method name to its model class."""

from molgate.methods.base import EncoderConfig, PropertyModel
from molgate.methods.extended_gate import ExtendedGATEModel
from molgate.methods.gate import GATEModel, GateConfig, GatePairModel
from molgate.methods.mtl import MTLModel
from molgate.methods.stl import STLModel

MODELS: dict[str, type[PropertyModel]] = {"stl": STLModel, "mtl": MTLModel, "gate": GATEModel,
                                          "gate-pair": GatePairModel, "gate-extended": ExtendedGATEModel}


def build_model(method: str, n_tasks: int, d_v: int, d_e: int, config: EncoderConfig,
                extra: dict | None = None) -> PropertyModel:
    """A model from its method name and saved settings (``extra`` = ``extra_config()``)."""
    if method not in MODELS:
        raise ValueError(f"method must be one of {sorted(MODELS)}, got {method!r}")
    return MODELS[method].from_config(n_tasks, d_v, d_e, config, extra or {})


__all__ = ["EncoderConfig", "PropertyModel", "MTLModel", "STLModel", "GATEModel", "GatePairModel", "ExtendedGATEModel",
           "GateConfig", "MODELS", "build_model"]
