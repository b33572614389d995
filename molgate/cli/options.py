"""Types for numeric options, checked when the command line is parsed, and options shared by commands.

A bad number must fail at once with argparse's one-line usage error, not after the data is read
(``--split-sizes 0.9 0.1 0.0`` used to end in a misleading empty-validation error), deep in
training (``--hidden-size 0``: a traceback) or not at all (``--epochs 0`` saved an untrained
model with exit status 0).
"""

from __future__ import annotations

import argparse
import math


def _number(kind, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_at_least(low: int):
    """An integer >= ``low``."""
    def parse(text: str) -> int:
        value = _number(int, text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def float_in(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    """A finite float in the interval from ``low`` to ``high`` (each end closed unless ``*_open``)."""
    def parse(text: str) -> float:
        value = _number(float, text)
        if value < low or (low_open and value == low) or value > high or (high_open and value == high):
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in {left}{low:g}, {high:g}{right}, got {value:g}")
        return value
    parse.__name__ = "number"
    return parse


positive_int = int_at_least(1)
count = int_at_least(0)  # zero allowed (layers, warm-up epochs, patience, seeds)
positive_float = float_in(0.0, low_open=True)
non_negative_float = float_in(0.0)
fraction = float_in(0.0, 1.0, low_open=True, high_open=True)
probability = float_in(0.0, 1.0, high_open=True)  # dropout
unit_interval = float_in(0.0, 1.0)  # similarity thresholds


class SplitSizes(argparse.Action):
    """Three fractions, each above 0, summing to 1: every part of the split must hold molecules."""

    def __call__(self, parser, namespace, values, option_string=None):
        if abs(sum(values) - 1.0) > 1e-6:
            parser.error(f"{option_string}: the three fractions must sum to 1, got {sum(values):g}")
        setattr(namespace, self.dest, list(values))


def split_sizes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split-sizes", nargs=3, type=fraction, default=[0.8, 0.1, 0.1], action=SplitSizes,
                   metavar=("TRAIN", "VAL", "TEST"), help="fractions of train, validation and test, each "
                                                          "above 0, summing to 1")


def overwrite_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="replace a non-empty --out folder (the whole folder, once the new model is complete)")


def fragment_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--largest-fragment", action="store_true", default=None,
                   help="predict the largest fragment of multi-fragment SMILES (default: as in training)")


def training_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Optimiser, schedule, device and cache options shared by ``train`` and ``add-task``."""
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=positive_int, default=50)
    t.add_argument("--batch-size", type=positive_int, default=64)
    t.add_argument("--patience", type=count, default=10, help="early-stopping patience (epochs)")
    t.add_argument("--warmup-epochs", type=count, default=2)
    t.add_argument("--init-lr", type=positive_float, default=1e-4)
    t.add_argument("--max-lr", type=positive_float, default=1e-3)
    t.add_argument("--final-lr", type=positive_float, default=1e-4)
    t.add_argument("--accelerator", default="cpu", help="cpu, gpu or auto (Lightning's names)")
    t.add_argument("--no-cache", action="store_true", help="do not use the on-disk graph cache")
    t.add_argument("--cache-dir", default=None, help="graph cache (default ~/.cache/molgate)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    return t
