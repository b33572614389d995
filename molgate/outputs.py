"""Where results are written: checked before any work, and model folders replaced atomically.

A model folder is read as a whole (weights, config, split, test set), so a folder that mixes two
runs is worse than none: the old ``metrics.json`` or parity plots beside new weights, or old
weights beside a new ``split.json`` after a killed retrain, load without a word. So a model is
trained into ``OUT.incomplete/`` (marked by an ``INCOMPLETE`` file that :func:`check_complete`
refuses), and only a finished one is renamed to ``OUT``, replacing an earlier folder in one step.
A non-empty ``OUT`` is only replaced when asked (``--overwrite``).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from molgate.errors import InputError

INCOMPLETE = "INCOMPLETE"


def _writable_parent(path: Path) -> None:
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write here: {parent} is not a writable folder", file=str(path))


def check_output_file(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """``out`` can be written as a file and is none of ``inputs`` (it would overwrite one)."""
    out = Path(out)
    if out.is_dir():
        raise InputError("is a folder; --out names a file here", file=str(out))
    for source in inputs:
        if Path(source).exists() and out.resolve() == Path(source).resolve():
            raise InputError("--out is an input file of this command and would be overwritten; "
                             "choose another name", file=str(out))
    _writable_parent(out)
    return out


def check_model_out(out: str | Path, overwrite: bool, inputs: Iterable[str | Path] = ()) -> Path:
    """``out`` can become a model folder: not a file, empty unless ``overwrite``, and holding
    none of ``inputs`` (replacing it would delete them)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is a file; --out names a model folder", file=str(out))
    for source in inputs:
        source = Path(source).resolve()
        if out.resolve() == source or out.resolve() in source.parents:
            raise InputError(f"--out holds the input {source}; replacing the folder would delete it",
                             file=str(out))
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError("is not empty; give --overwrite to replace the whole folder, or a new --out",
                         file=str(out))
    _writable_parent(out)
    return out


def staging_dir(out: Path) -> Path:
    """The same name for every process of one run (DDP ranks agree on it without talking)."""
    return out.with_name(out.name + ".incomplete")


@contextmanager
def staged_model_dir(out: str | Path, overwrite: bool, inputs: Iterable[str | Path] = (),
                     writer: bool = True) -> Iterator[Path]:
    """Yield the folder to train into; on success it becomes ``out``.

    On an error the staging folder is removed; a killed run leaves it marked ``INCOMPLETE``, and
    the next run into ``out`` starts it afresh. ``writer=False`` (DDP ranks other than 0) only
    yields the name: one process writes.
    """
    out = check_model_out(out, overwrite, inputs)
    stage = staging_dir(out)
    if not writer:
        yield stage
        return
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    (stage / INCOMPLETE).write_text("training did not finish; this folder is not a usable model\n")
    try:
        yield stage
    except Exception:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    (stage / INCOMPLETE).unlink()
    publish(stage, out)


def publish(stage: Path, out: Path) -> None:
    """Rename ``stage`` to ``out``; an existing ``out`` is moved aside first and then deleted, so
    at every moment ``out`` is either the old model or the new one."""
    old = out.with_name(f"{out.name}.replaced-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    if old.exists():
        shutil.rmtree(old)


def check_complete(model_dir: str | Path) -> None:
    """Refuse a folder that a killed run left half-written."""
    if (Path(model_dir) / INCOMPLETE).exists():
        raise InputError("incomplete model folder (its training was interrupted); train again",
                         file=str(model_dir))


def is_global_zero() -> bool:
    """True in the process that writes results: the only one, or DDP's rank 0 (whose children
    Lightning starts with ``LOCAL_RANK``; other nodes are started with ``NODE_RANK``)."""
    return int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0
