"""molgate: GATE (Geometrically Aligned Transfer Encoder) for molecular property prediction."""

__version__ = "0.1.0"
