"""``molgate export-chemprop``: a model's D-MPNN as a file for ``chemprop train --from-foundation``."""

from __future__ import annotations

import argparse

from molgate.cli import lazy


def cmd_export_chemprop(a: argparse.Namespace) -> int:
    out, options = lazy.api().export_chemprop(a.model, a.out, task=a.task, overwrite=a.overwrite)
    print(f"wrote {out}: the model's trained D-MPNN as a Chemprop v2 model")
    print("fine-tune it with Chemprop (same graphs as the molgate model): chemprop train "
          f"--from-foundation {out} {' '.join(options)} --data-path mine.csv --task-type regression ...")
    return 0


def register(sub) -> None:
    """Add the ``export-chemprop`` sub-command to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("export-chemprop", help="write a model's trained D-MPNN as a Chemprop v2 model file "
                                               "for chemprop train --from-foundation")
    p.add_argument("--model", required=True, help="a molgate model folder (MTL, GATE with a shared trunk, or STL)")
    p.add_argument("--out", required=True, help="the .pt file to write (read by Chemprop, not by molgate)")
    p.add_argument("--task", default=None, help="STL only: which task's D-MPNN")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_export_chemprop)


__all__ = ["cmd_export_chemprop", "register"]
