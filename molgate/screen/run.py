"""``molgate screen``: predict a library chunk by chunk, keep the hits, and survive being killed.

Data flow: the library is read in numbered chunks (:mod:`molgate.screen.reader`), a bounded
number of chunks ahead. Each chunk is parsed, featurised and measured against the applicability
domain (:mod:`molgate.screen.prepare`), every task of every model is predicted in one pass per
batch (:mod:`molgate.screen.models`), ``--where`` is applied and the chunk's rows are written to
its own Parquet part under ``OUT.parts/``, atomically (write, then rename). On a CPU each worker
process does all of that for its chunks (:mod:`molgate.screen.chunk_screener`); with a GPU the
workers prepare the graphs and the main process predicts on the device. A rerun with the same arguments skips
the chunks whose part exists (:mod:`molgate.screen.output`), so nothing is duplicated or missed; when all parts exist they are
concatenated, in chunk order, into ``OUT`` and the parts folder is removed. Memory holds a few
chunks, however large the library.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa

from molgate.errors import InputError
from molgate.outputs import check_output_file
from molgate.screen.chunk_screener import init_pool_worker, screen_chunk
from molgate.screen.domain import DEFAULT_THRESHOLD, reference_smiles
from molgate.screen.models import ScreenModels, cpu_has_native_bf16, load_screen_models
from molgate.screen.output import (ScreenSettings, ScreenSummary, complete, output_columns, output_schema,
                                   prepare_output, write_chunk)
from molgate.screen.prepare import PreparedChunk, init_worker, prepare_chunk
from molgate.screen.ray_engine import screen_with_ray
from molgate.screen.reader import check_library, iter_chunks, progress_bar
from molgate.screen.where import Criteria, parse_where
from molgate.train.checkpoint import trained_on_largest_fragment

logger = logging.getLogger("molgate")

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
    run = prepare_output(models, files, out, settings)
    if isinstance(run, ScreenSummary):  # finished earlier with the same arguments
        return run
    if engine == "ray":
        return screen_with_ray(models, files, out, settings, max(workers, 1), progress, *run)
    return _screen_local(models, files, out, settings, criteria, workers, progress, *run)


def _screen_local(models: ScreenModels, files: list[Path], out: Path, settings: ScreenSettings,
                  criteria: Criteria | None, workers: int, progress: bool, parts: Path, signature: str,
                  done: set[int]) -> ScreenSummary:
    schema = output_schema(models, settings)
    file_index = {str(f): i for i, f in enumerate(files)}
    reference = reference_smiles(models.dirs) if settings.domain else None
    start = time.perf_counter()
    read_now = 0
    bar = progress_bar(files, settings.smiles_column, len(done) * settings.chunk_size, progress)
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


def process_chunk(prepared: PreparedChunk, models: ScreenModels, settings: ScreenSettings,
                  criteria: Criteria | None, schema: pa.Schema, parts: Path, file_index: int) -> int:
    """Predict, filter and write one chunk; its Parquet part, written last, marks it done."""
    preds = models.predict(prepared.graphs, settings.batch_size, settings.precision)
    return write_chunk(prepared, preds, models, settings, criteria, schema, parts, file_index)


