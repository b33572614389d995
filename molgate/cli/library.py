"""``molgate library generate``: a synthetic screening library for benchmarks."""

from __future__ import annotations

import argparse
import time

from molgate.cli import lazy
from molgate.cli.options import count, positive_int


def cmd_generate(a: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = lazy.api().generate_library(a.size, a.out, a.seed, progress=not a.no_progress)
    seconds = time.perf_counter() - start
    print(f"{a.size} molecules written to {out} ({seconds:.1f} s, {a.size / seconds:.0f} molecules/s)")
    return 0


def add_library_commands(sub) -> None:
    library = sub.add_parser("library", help="synthetic screening libraries (generate)")
    lsub = library.add_subparsers(dest="library_command", required=True)

    p = lsub.add_parser("generate", help="enumerate unique molecules from built-in building blocks")
    p.add_argument("--size", type=positive_int, required=True, help="number of unique molecules")
    p.add_argument("--out", required=True, help=".smi/.txt (one SMILES a line) or .csv, "
                                                "optionally .gz, or .parquet (column 'smiles')")
    p.add_argument("--seed", type=count, default=0, help="the same seed gives the same file")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_generate)
