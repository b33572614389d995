"""``molgate screen``: predict a library chunk by chunk, keep the hits, and survive being killed.

Data flow: the library is read in numbered chunks (:mod:`molgate.screen.reader`), a bounded
number of chunks ahead. Each chunk is parsed, featurised and measured against the applicability
domain (:mod:`molgate.screen.prepare`), every task of every model is predicted in one pass per
batch (:mod:`molgate.screen.models`), ``--where`` is applied and the chunk's rows are written to
its own Parquet part under ``OUT.parts/``, atomically (write, then rename). On a CPU each worker
process does all of that for its chunks (:mod:`molgate.screen.chunk_screener`); with a GPU the
workers prepare the graphs and the main process predicts on the device. A rerun with the same arguments skips
the chunks whose part exists, so nothing is duplicated or missed; when all parts exist they are
concatenated, in chunk order, into ``OUT`` and the parts folder is removed. Memory holds a few
chunks, however large the library.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from molgate.data.table import rejects_path
from molgate.errors import InputError
from molgate.outputs import check_output_file
from molgate.screen.chunk_screener import init_pool_worker, screen_chunk
from molgate.screen.domain import DEFAULT_THRESHOLD, training_smiles
from molgate.screen.models import ScreenModels, cpu_has_native_bf16, load_screen_models
from molgate.screen.prepare import PreparedChunk, init_worker, prepare_chunk
from molgate.screen.reader import check_library, count_rows, iter_chunks
from molgate.screen.where import Criteria, parse_where
from molgate.train.checkpoint import trained_on_largest_fragment

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
        from molgate.screen.models import PRECISIONS

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


def _schema(models: ScreenModels, settings: ScreenSettings) -> pa.Schema:
    fields = [pa.field("smiles", pa.string()), pa.field("library_file", pa.int32()), pa.field("row", pa.int64())]
    fields += [pa.field(c, pa.float64()) for c in models.columns()]
    if settings.domain:
        fields += [pa.field("nn_similarity", pa.float64()), pa.field("in_domain", pa.bool_())]
    units = {t: u for t, u in zip(models.tasks, models.units)}
    return pa.schema(fields, metadata={"molgate.units": json.dumps(units),
                                       "molgate.models": json.dumps(models.dirs),
                                       "molgate.where": settings.where or ""})


def _tmp(path: Path) -> Path:
    # one name per process: a worker orphaned by a killed run may still be writing its own
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def _write_atomic_parquet(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    tmp = _tmp(path)
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), tmp)
    os.replace(tmp, path)


def _ordered_bounded(pool, func, items: Iterable, window: int) -> Iterator:
    """``pool.imap(func, items)`` in order, but never more than ``window`` items read ahead (flat memory)."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.apply_async(func, (item,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def prepared_chunks(chunks: Iterable, workers: int, featurizer: dict, reference: list[str] | None,
                    largest_fragment: bool = False) -> Iterator[PreparedChunk]:
    """Chunks parsed and featurised by ``workers`` processes (0: in this process)."""
    if workers <= 0:
        init_worker(featurizer, reference, largest_fragment)
        for chunk in chunks:
            yield prepare_chunk(chunk)
        return
    ctx = mp.get_context("spawn" if os.environ.get("MOLGATE_SPAWN") else "fork")
    with ctx.Pool(workers, initializer=init_worker, initargs=(featurizer, reference, largest_fragment)) as pool:
        yield from _ordered_bounded(pool, prepare_chunk, chunks, window=2 * workers)


def _torch_safe_context(threads: int):
    """A start method for processes that run torch with ``threads`` threads.

    A fork inherits OpenMP's thread pool half-alive: a child that opens a parallel region of
    two or more threads hangs. With one thread torch, MKL and oneDNN never open one, so a fork
    (instant, nothing imported again) is safe; otherwise a fork server, which imports the heavy
    modules once in a clean process and forks every worker from it.
    """
    if os.environ.get("MOLGATE_SPAWN"):
        return mp.get_context("spawn")
    methods = mp.get_all_start_methods()
    if threads == 1 and "fork" in methods:
        return mp.get_context("fork")
    if "forkserver" not in methods:
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["molgate.screen.chunk_screener", "molgate.screen.run"])
    return ctx


def screened_in_workers(chunks: Iterable, workers: int, models: ScreenModels, settings: ScreenSettings,
                        reference: list[str] | None, parts: Path, files: list[Path]) -> Iterator[int]:
    """Rows read per chunk, each chunk screened start to finish by one of ``workers`` processes,
    each with its own copy of the models and its share of the CPU threads."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    init = (models.dirs, asdict(settings), reference, str(parts), [str(f) for f in files], "cpu", threads)
    with _torch_safe_context(threads).Pool(workers, initializer=init_pool_worker, initargs=init) as pool:
        yield from _ordered_bounded(pool, screen_chunk, chunks, window=2 * workers)


def screen(model: str | Path, library: list[str | Path], out: str | Path, where: str | None = None,
           ensemble: list[str | Path] | None = None, workers: int | None = None,
           smiles_column: str = "smiles", chunk_size: int = 10_000, batch_size: int = 1024,
           domain: bool = True, domain_threshold: float = DEFAULT_THRESHOLD, progress: bool = True,
           engine: str = "local", device: str | None = None, precision: str = "fp32",
           largest_fragment: bool | None = None) -> ScreenSummary:
    """Screen ``library`` with ``model`` (and ``ensemble``); write the hits to ``out`` (Parquet).

    ``largest_fragment=None`` does what the model's training did with multi-fragment SMILES.
    """
    out = Path(out)
    if out.suffix not in (".parquet", ".pq"):
        raise InputError("the screen output is Parquet: give --out FILE.parquet", file=str(out))
    files = [Path(f) for f in library]
    check_library(files, smiles_column)
    check_output_file(out, files)
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    models = load_screen_models(model, ensemble, device)
    if largest_fragment is None:
        largest_fragment = any(trained_on_largest_fragment(d) for d in models.dirs)
    settings = ScreenSettings(where, domain, domain_threshold, smiles_column, chunk_size, batch_size, precision,
                              largest_fragment)
    if precision == "bf16" and models.device.type == "cpu" and not cpu_has_native_bf16():
        logger.warning("this CPU has no bfloat16 hardware (AVX-512 BF16 or AMX): --precision bf16 "
                       "is emulated here and slower than fp32")
    columns = output_columns(models, settings)
    criteria: Criteria | None = parse_where(where, columns[3:]) if where else None  # before any work
    workers = (os.cpu_count() or 1) if workers is None else workers
    run = _prepare_output(models, files, out, settings)
    if isinstance(run, ScreenSummary):  # finished earlier with the same arguments
        return run
    if engine == "ray":
        from molgate.screen.ray_engine import screen_with_ray

        return screen_with_ray(models, files, out, settings, max(workers, 1), progress, *run)
    return _screen_local(models, files, out, settings, criteria, workers, progress, *run)


def _done_file(out: Path) -> Path:
    return out.with_name(out.name + ".screen.json")


def _prepare_output(models, files, out: Path, settings) -> tuple[Path, str, set[int]] | ScreenSummary:
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


def progress_bar(files: list[Path], settings: ScreenSettings, done: set[int], progress: bool,
                 desc: str = "screen") -> tqdm:
    """Molecules read, with rate and ETA; chunks done before count as read."""
    total = count_rows(files, settings.smiles_column)
    bar = tqdm(total=total, unit="mol", desc=desc, disable=not progress, smoothing=0.1)
    bar.update(min(total, len(done) * settings.chunk_size))
    return bar


def _screen_local(models: ScreenModels, files: list[Path], out: Path, settings: ScreenSettings,
                  criteria: Criteria | None, workers: int, progress: bool, parts: Path, signature: str,
                  done: set[int]) -> ScreenSummary:
    schema = _schema(models, settings)
    file_index = {str(f): i for i, f in enumerate(files)}
    reference = reference_smiles(models, settings)
    start = time.perf_counter()
    read_now = 0
    bar = progress_bar(files, settings, done, progress)
    chunks = iter_chunks(files, settings.chunk_size, settings.smiles_column, skip=done)
    if workers > 0 and models.device.type == "cpu":
        counts = screened_in_workers(chunks, workers, models, settings, reference, parts, files)
    else:
        counts = (process_chunk(prepared, models, settings, criteria, schema, parts, file_index[prepared.file])
                  for prepared in prepared_chunks(chunks, workers, models.featurizer, reference,
                                                  settings.largest_fragment))
    for n in counts:
        read_now += n
        bar.update(n)
    bar.close()
    return complete(parts, out, schema, signature, len(done), read_now, time.perf_counter() - start)


def reference_smiles(models: ScreenModels, settings: ScreenSettings) -> list[str] | None:
    """The training molecules of every model, for the applicability domain."""
    if not settings.domain:
        return None
    reference = sorted({s for d in models.dirs for s in training_smiles(d)})
    if not reference:
        logger.warning("no training molecules found beside the model(s): nn_similarity is 0")
    return reference


def process_chunk(prepared: PreparedChunk, models: ScreenModels, settings: ScreenSettings,
                  criteria: Criteria | None, schema: pa.Schema, parts: Path, file_index: int) -> int:
    """Predict, filter and write one chunk; its Parquet part, written last, marks it done."""
    preds = models.predict(prepared.graphs, settings.batch_size, settings.precision)
    return write_chunk(prepared, preds, models, settings, criteria, schema, parts, file_index)


def write_chunk(prepared: PreparedChunk, preds: np.ndarray, models: ScreenModels, settings: ScreenSettings,
                criteria: Criteria | None, schema: pa.Schema, parts: Path, file_index: int) -> int:
    """Filter and write one predicted chunk (``preds [n, models, K]``); the part marks it done."""
    frame = chunk_frame(prepared, preds, file_index, models, settings)
    if criteria is not None:
        frame = frame[criteria.mask(frame)]
    rejects = pd.DataFrame(prepared.rejects, columns=["file", "row", "smiles", "reason"])
    rejects_file = parts / f"rejects-{prepared.index:08d}.csv"
    rejects.to_csv(_tmp(rejects_file), index=False)
    os.replace(_tmp(rejects_file), rejects_file)
    count_file = parts / f"count-{prepared.index:08d}.json"
    _tmp(count_file).write_text(json.dumps(
        {"read": prepared.n_read, "valid": len(prepared.smiles), "invalid": len(prepared.rejects),
         "multi_fragment": prepared.multi_fragment}))
    os.replace(_tmp(count_file), count_file)
    _write_atomic_parquet(frame, schema, parts / f"part-{prepared.index:08d}.parquet")
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
