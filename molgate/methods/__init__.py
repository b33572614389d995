"""One file per method; ``MODELS`` maps a method name to its model class."""

from molgate.methods.base import EncoderConfig, PropertyModel
from molgate.methods.mtl import MTLModel
from molgate.methods.stl import STLModel

MODELS: dict[str, type[PropertyModel]] = {"stl": STLModel, "mtl": MTLModel}

__all__ = ["EncoderConfig", "PropertyModel", "MTLModel", "STLModel", "MODELS"]
