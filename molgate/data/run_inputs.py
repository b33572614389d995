"""What a training run records about its inputs: the split, its per-task counts, the rejects and
the units.

Shared by ``molgate train`` and ``molgate add-task``: both split (or load a split file), check that
every task has training and validation labels, and write ``split.json``, ``split_counts.csv`` and
the rejects beside the model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from molgate.data.splits import Split, load_split, make_split, save_split, split_counts
from molgate.data.table import MoleculeTable, write_rejects
from molgate.errors import InputError

logger = logging.getLogger("molgate")


def units_from_manifest(data: str | Path, tasks: list[str]) -> list[str]:
    """Units from a property-suite ``manifest.json`` beside the data file, else empty."""
    manifest = Path(data).parent / "manifest.json"
    if manifest.exists():
        try:
            meta = json.loads(manifest.read_text()).get("tasks", {})
            return [str(meta.get(t, {}).get("unit", "")) for t in tasks]
        except (json.JSONDecodeError, AttributeError):
            pass
    return [""] * len(tasks)


def check_split(table: MoleculeTable, split: Split, source: str) -> None:
    """Every task needs a labelled molecule in train (to fit) and in validation (to early-stop)."""
    counts = split_counts(table, split)
    for t in table.tasks:
        for part in ("train", "val"):
            if counts.loc[t, part] == 0:
                raise InputError(f"task has no labelled molecule in the {part} split "
                                 f"({table.label_counts()[t]} labels in all); add data or drop the "
                                 f"task", file=source, column=t)


def prepare_split(table: MoleculeTable, split: str = "scaffold", seed: int = 0,
                  split_file: str | Path | None = None, sizes=(0.8, 0.1, 0.1)) -> Split:
    """The split of ``split_file`` when given, else a new ``split`` split with ``seed``."""
    if split_file is not None:
        return load_split(split_file, table)
    return make_split(table, split, seed, sizes)


def split_and_record(table: MoleculeTable, rejects, data, out: Path, split: str, seed: int,
                     split_file, split_sizes, writer: bool = True, rejects_to: Path | None = None
                     ) -> tuple[Split, pd.DataFrame, Path | None]:
    """Split (or load the split), check every task has train and validation labels, and write
    the rejects (beside ``rejects_to``, the final folder), ``split.json`` and
    ``split_counts.csv`` into ``out`` (when ``writer``)."""
    rejects_file = write_rejects(rejects, rejects_to or out) if writer else None
    the_split = prepare_split(table, split, seed, split_file, split_sizes)
    check_split(table, the_split, str(data))
    out.mkdir(parents=True, exist_ok=True)
    counts = split_counts(table, the_split)
    if writer:
        save_split(the_split, table, out / "split.json")
        counts.to_csv(out / "split_counts.csv")
        logger.info("split (%s, seed %d), labelled molecules per task:\n%s", the_split.kind, seed,
                    counts.to_string())
    return the_split, counts, rejects_file
