"""The screen's output: what decides its rows, their schema, one Parquet part per chunk, and the
atomic finish.

A run writes into ``OUT.parts/``: ``run.json`` (the signature of the models, library and
settings), and per chunk ``i`` its rejects, its counts and last ``part-i.parquet``, each written to
a temporary name and renamed, so a part exists only complete and marks its chunk done. A rerun with
the same signature skips those chunks. When all exist they are concatenated in chunk order into
``OUT`` (through ``OUT.tmp`` and a rename), the rejects into ``OUT.rejects.csv``, the summary into
``OUT.screen.json``, and the parts folder is removed. Every engine (the local one,
:mod:`molgate.screen.chunk_screener` in worker processes, :mod:`molgate.screen.ray_engine`)
writes through this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from molgate.data.table import rejects_path
from molgate.errors import InputError
from molgate.screen.domain import DEFAULT_THRESHOLD
from molgate.screen.models import PRECISIONS, ScreenModels
from molgate.screen.prepare import PreparedChunk
from molgate.screen.where import Criteria

logger = logging.getLogger("molgate")

DOMAIN_COLUMNS = ("nn_similarity", "in_domain")


@dataclass
class ScreenSettings:
    """Everything that decides the output rows; a resumed run must use the same."""

    where: str | None = None
    domain: bool = True
    domain_threshold: float = DEFAULT_THRESHOLD
    smiles_column: str = "smiles"
    chunk_size: int = 10_000
    batch_size: int = 1024
    precision: str = "fp32"  # or "bf16" (see ScreenModels.predict)
    largest_fragment: bool = False  # multi-fragment SMILES: keep the largest fragment

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


@dataclass
class ScreenSummary:
    out: str
    read: int = 0
    valid: int = 0
    invalid: int = 0
    hits: int = 0
    seconds: float = 0.0
    molecules_per_second: float = 0.0
    chunks: int = 0
    resumed_chunks: int = 0
    multi_fragment: int = 0
    rejects_file: str | None = None
    columns: list[str] = field(default_factory=list)


def _file_identity(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def run_signature(models: ScreenModels, library: list[Path], settings: ScreenSettings) -> str:
    """A hash of the inputs and settings: a resumed run must match it exactly."""
    payload = {
        "models": [{**_file_identity(Path(d) / "weights.pt"), "config": (Path(d) / "config.json").read_text()}
                   for d in models.dirs],
        "library": [_file_identity(p) for p in library],
        "settings": asdict(settings),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def output_columns(models: ScreenModels, settings: ScreenSettings) -> list[str]:
    return ["smiles", "library_file", "row", *models.columns(), *(DOMAIN_COLUMNS if settings.domain else ())]


def chunk_frame(prepared: PreparedChunk, preds: np.ndarray, file_index: int, models: ScreenModels,
                settings: ScreenSettings) -> pd.DataFrame:
    """One row per valid molecule: SMILES as given, where it came from, properties in units."""
    data: dict = {"smiles": prepared.smiles,
                  "library_file": np.full(len(prepared.smiles), file_index, dtype=np.int32),
                  "row": np.asarray(prepared.rows, dtype=np.int64)}
    mean = preds.mean(axis=1) if len(preds) else np.zeros((0, len(models.tasks)))
    std = preds.std(axis=1) if len(preds) else mean
    for k, task in enumerate(models.tasks):
        data[task] = mean[:, k].astype(np.float64)
        if models.ensemble:
            data[f"{task}_std"] = std[:, k].astype(np.float64)
    if settings.domain:
        sim = prepared.similarity if prepared.similarity is not None else np.zeros(len(prepared.smiles))
        data["nn_similarity"] = sim.astype(np.float64)
        data["in_domain"] = sim >= settings.domain_threshold
    return pd.DataFrame(data)


def output_schema(models: ScreenModels, settings: ScreenSettings) -> pa.Schema:
    fields = [pa.field("smiles", pa.string()), pa.field("library_file", pa.int32()), pa.field("row", pa.int64())]
    fields += [pa.field(c, pa.float64()) for c in models.columns()]
    if settings.domain:
        fields += [pa.field("nn_similarity", pa.float64()), pa.field("in_domain", pa.bool_())]
    units = {t: u for t, u in zip(models.tasks, models.units)}
    return pa.schema(fields, metadata={"molgate.units": json.dumps(units),
                                       "molgate.models": json.dumps(models.dirs),
                                       "molgate.where": settings.where or ""})


def _temporary(path: Path) -> Path:
    # one name per process: a worker orphaned by a killed run may still be writing its own
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def write_parquet_atomic(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    tmp = _temporary(path)
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), tmp)
    os.replace(tmp, path)


def _done_file(out: Path) -> Path:
    return out.with_name(out.name + ".screen.json")


def prepare_output(models, files, out: Path, settings) -> tuple[Path, str, set[int]] | ScreenSummary:
    """The parts folder of this run, its signature and the chunks already done there; or the
    summary of the same screen finished earlier."""
    signature = run_signature(models, files, settings)
    parts = out.with_name(out.name + ".parts")
    done_file = _done_file(out)
    if done_file.exists() and out.exists() and not parts.exists():
        done = json.loads(done_file.read_text())
        if done.get("signature") == signature:
            return ScreenSummary(**done["summary"])
        raise InputError("holds the result of a different screen; remove it or choose another --out",
                         file=str(out))
    parts.mkdir(parents=True, exist_ok=True)
    run_file = parts / "run.json"
    if run_file.exists():
        if json.loads(run_file.read_text()).get("signature") != signature:
            raise InputError("an unfinished screen with other models, library or settings is here; "
                             "remove the folder or choose another --out", file=str(parts))
    else:
        run_file.write_text(json.dumps({"signature": signature, "settings": asdict(settings)}))
    done = {int(p.stem.split("-")[1]) for p in parts.glob("part-*.parquet")}
    return parts, signature, done


def write_chunk(prepared: PreparedChunk, preds: np.ndarray, models: ScreenModels, settings: ScreenSettings,
                criteria: Criteria | None, schema: pa.Schema, parts: Path, file_index: int) -> int:
    """Filter and write one predicted chunk (``preds [n, models, K]``); the part marks it done."""
    frame = chunk_frame(prepared, preds, file_index, models, settings)
    if criteria is not None:
        frame = frame[criteria.mask(frame)]
    rejects = pd.DataFrame(prepared.rejects, columns=["file", "row", "smiles", "reason"])
    rejects_file = parts / f"rejects-{prepared.index:08d}.csv"
    rejects.to_csv(_temporary(rejects_file), index=False)
    os.replace(_temporary(rejects_file), rejects_file)
    count_file = parts / f"count-{prepared.index:08d}.json"
    _temporary(count_file).write_text(json.dumps(
        {"read": prepared.n_read, "valid": len(prepared.smiles), "invalid": len(prepared.rejects),
         "multi_fragment": prepared.multi_fragment}))
    os.replace(_temporary(count_file), count_file)
    write_parquet_atomic(frame, schema, parts / f"part-{prepared.index:08d}.parquet")
    return prepared.n_read


def complete(parts: Path, out: Path, schema: pa.Schema, signature: str, resumed: int, read_now: int,
             seconds: float) -> ScreenSummary:
    summary = _finish(parts, out, schema, resumed)
    summary.seconds = seconds
    summary.molecules_per_second = read_now / max(seconds, 1e-9)
    summary.columns = schema.names
    _done_file(out).write_text(json.dumps({"signature": signature, "summary": asdict(summary)}, indent=1))
    shutil.rmtree(parts)
    logger.info("screened %d molecule(s): %d invalid, %d hit(s) -> %s", summary.read, summary.invalid,
                summary.hits, out)
    if summary.read == 0:
        logger.warning("the library holds no molecules: %s has no rows", out)
    if summary.multi_fragment:
        logger.warning("%d molecule(s) have several fragments (salts or mixtures): predicted whole, or "
                       "their largest fragment alone with --largest-fragment or a model trained so",
                       summary.multi_fragment)
    return summary


def _finish(parts: Path, out: Path, schema: pa.Schema, resumed: int) -> ScreenSummary:
    """Concatenate the parts in chunk order into ``out`` and the rejects into ``OUT.rejects.csv``."""
    summary = ScreenSummary(out=str(out), resumed_chunks=resumed)
    part_files = sorted(parts.glob("part-*.parquet"))
    tmp = out.with_name(out.name + ".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(tmp, schema) as writer:
        for p in part_files:
            table = pq.read_table(p, schema=schema)
            summary.hits += table.num_rows
            if table.num_rows:
                writer.write_table(table)
    os.replace(tmp, out)
    for c in sorted(parts.glob("count-*.json")):
        counts = json.loads(c.read_text())
        summary.read += counts["read"]
        summary.valid += counts["valid"]
        summary.invalid += counts["invalid"]
        summary.multi_fragment += counts.get("multi_fragment", 0)
    summary.chunks = len(part_files)
    rejects = [pd.read_csv(r, dtype=str, keep_default_na=False) for r in sorted(parts.glob("rejects-*.csv"))]
    rejects = [r for r in rejects if len(r)]
    reject_path = rejects_path(out)
    if rejects:
        pd.concat(rejects, ignore_index=True).to_csv(reject_path, index=False)
        summary.rejects_file = str(reject_path)
        logger.warning("%d invalid SMILES written to %s", summary.invalid, reject_path)
    elif reject_path.exists():
        reject_path.unlink()
    return summary
