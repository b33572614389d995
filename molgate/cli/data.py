"""``molgate data``: build the built-in property suite, summarise it, split it."""

from __future__ import annotations

import argparse
from pathlib import Path

from molgate.cli import lazy
from molgate.cli.options import count


def suite_file(path: str) -> Path:
    """A suite directory or its ``suite.parquet``."""
    p = Path(path)
    return p / "suite.parquet" if p.is_dir() else p


def cmd_build(a: argparse.Namespace) -> int:
    suite = lazy.suite()
    tasks = a.tasks[0] if len(a.tasks) == 1 and a.tasks[0] in ("reference10", "all") else a.tasks
    manifest = suite.build_suite(tasks, a.out, exclude_sources=tuple(a.exclude_source),
                           measured_only=a.measured_only, stereo=a.stereo, progress=not a.no_progress,
                           drop_flagged=a.drop_flagged,
                           require_corroboration=tuple(a.require_corroboration))
    print("\n".join(suite.summary_lines(manifest)))
    print(f"suite written to {a.out}/suite.parquet, suite_long.parquet, suite_review.csv, "
          "manifest.json")
    return 0


def cmd_summary(a: argparse.Namespace) -> int:
    png = a.out or str(suite_file(a.data).parent / "task_overlap.png")
    frame = lazy.suite().summarize_suite(suite_file(a.data), png)
    print(frame.to_string())
    print(f"task-overlap heatmap written to {png}")
    return 0


def cmd_data_split(a: argparse.Namespace) -> int:
    data = suite_file(a.data)
    out = a.out or str(data.parent / "splits")
    for p in lazy.api().make_splits(data, out, a.targets, "smiles", a.split, a.seeds):
        print(p)
    return 0


def add_data_commands(sub) -> None:
    data = sub.add_parser("data", help="the built-in property suite (build, summary, split)")
    dsub = data.add_subparsers(dest="data_command", required=True)

    p = dsub.add_parser("build", help="build the property suite from the installed 'chemicals'")
    p.add_argument("--tasks", nargs="+", default=["reference10"],
                   help="task names or a preset: reference10, all")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--exclude-source", nargs="*", default=[], help="source names to leave out")
    p.add_argument("--measured-only", action="store_true", help="drop compiled and computed values")
    p.add_argument("--stereo", choices=["keep", "remove"], default="keep")
    flagged = p.add_mutually_exclusive_group()
    flagged.add_argument("--drop-flagged", dest="drop_flagged", action="store_true", default=True,
                         help="leave out values that break a consistency rule or sit far from "
                              "their analogues (default; all are listed in suite_review.csv)")
    flagged.add_argument("--keep-flagged", dest="drop_flagged", action="store_false",
                         help="keep flagged values, reason codes in suite_long.parquet's flags")
    p.add_argument("--require-corroboration", nargs="+", default=[], metavar="TASK",
                   help="tasks (or a preset) that keep only values two independent sources "
                        "agree on")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_build)

    p = dsub.add_parser("summary", help="per-task counts, units, ranges and a task-overlap heatmap")
    p.add_argument("--data", required=True, help="suite folder or suite.parquet")
    p.add_argument("--out", default=None, help="heatmap PNG (default: beside the suite)")
    p.set_defaults(func=cmd_summary)

    p = dsub.add_parser("split", help="random and scaffold splits of the suite for several seeds")
    p.add_argument("--data", required=True, help="suite folder or suite.parquet")
    p.add_argument("--targets", nargs="+", default=None)
    p.add_argument("--split", nargs="+", choices=["random", "scaffold"], default=["random", "scaffold"])
    p.add_argument("--seeds", nargs="+", type=count, default=[0, 1, 2, 3, 4])
    p.add_argument("--out", default=None, help="default: DIR/splits")
    p.set_defaults(func=cmd_data_split)
