"""``molgate pretrain``: build the property suite and train the default GATE on every task."""

from __future__ import annotations

import argparse

from molgate.cli import lazy
from molgate.cli.options import count, overwrite_option, positive_int


def cmd_pretrain(a: argparse.Namespace) -> int:
    tasks = a.tasks[0] if len(a.tasks) == 1 else a.tasks
    result = lazy.api().pretrain(a.out, tasks=tasks, max_per_task=a.max_per_task, epochs=a.epochs,
                                 split=a.split, seed=a.seed, exclude_sources=tuple(a.exclude_source),
                                 suite_dir=a.suite_dir, overwrite=a.overwrite, progress=not a.no_progress,
                                 batch_size=a.batch_size, patience=a.patience, accelerator=a.accelerator,
                                 devices=a.devices)
    scored = [m["rmse"] for m in result.metrics.values() if m]
    print(f"pre-trained GATE on {len(result.tasks)} task(s) in {result.seconds:.0f} s of training "
          f"({result.total_seconds:.0f} s in all); {len(scored)} task(s) scored on the test split")
    print(f"model: {result.model_dir}  (model card: {result.card})")
    print(f"add your own property: molgate add-task --model {result.model_dir} --data mine.csv "
          f"--target my_property --out with_mine")
    return 0


def register(sub) -> None:
    """Add the ``pretrain`` sub-command to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("pretrain", help="build the property suite and train the default GATE on every task: "
                                        "a model to add your own task to")
    p.add_argument("--out", required=True, help="the model directory (with MODEL_CARD.md and metrics.json)")
    overwrite_option(p)
    p.add_argument("--tasks", nargs="+", default=["all"],
                   help="a preset (all, reference10) or task names (default: all)")
    p.add_argument("--exclude-source", action="append", default=[], metavar="SOURCE",
                   help="leave a data source out of the suite (repeatable), e.g. 'CAS Common Chemistry' "
                        "(CC BY-NC) for a model free of non-commercial data")
    p.add_argument("--max-per-task", type=positive_int, default=None,
                   help="at most N training labels per task (default: every label)")
    p.add_argument("--suite-dir", default=None,
                   help="keep the suite build here and reuse it (default: a temporary folder)")
    p.add_argument("--split", choices=["random", "scaffold"], default="scaffold")
    p.add_argument("--seed", type=count, default=0)
    p.add_argument("--epochs", type=positive_int, default=50)
    p.add_argument("--patience", type=count, default=10, help="epochs without improvement before stopping")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--accelerator", default="cpu", help="cpu, gpu or auto (Lightning's names)")
    p.add_argument("--devices", type=positive_int, default=1, help="with a GPU: data-parallel devices")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_pretrain)


__all__ = ["cmd_pretrain", "register"]
