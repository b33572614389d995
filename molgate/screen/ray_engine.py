"""``molgate screen --engine ray``: the same screen on a Ray cluster, through Ray Data.

The driver lists the library's chunks (the same numbered chunks as the local engine, so the two
give the same rows and can resume each other's runs) as small descriptors: a row range of a
Parquet file, a byte range of a plain SMILES file, or, for CSV and gzipped files that cannot be
seeked, the chunk's SMILES staged once to a small Parquet file beside the output. Ray Data streams
the descriptors to a pool of actors; each actor loads the models once, then reads, featurises,
predicts, filters and writes its chunks' Parquet parts, exactly as the local engine does. The
driver concatenates the parts. Library files and the output folder must be on storage every node
can read (a shared filesystem). ``RAY_ADDRESS`` selects a running cluster; without it a local
one is started with ``workers`` CPUs.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molgate.screen.chunk_screener import ChunkScreener
from molgate.screen.domain import reference_smiles
from molgate.screen.models import ScreenModels
from molgate.screen.output import ScreenSettings, ScreenSummary, complete, output_schema
from molgate.screen.reader import LibraryChunk, file_kind, iter_chunks, progress_bar


def _text_descriptors(path: Path, file_index: int, chunk_size: int, start_index: int) -> list[dict]:
    """Byte ranges of ``chunk_size`` lines (universal newlines, as the local reader splits them)."""
    out, index = [], start_index
    with open(path, "rb") as fh:
        data_offset, row = 0, 0
        start, first = 0, 1
        for line in fh:  # binary lines end at b"\n"; a lone b"\r" is rare enough to split later
            row += 1
            data_offset += len(line)
            if row - first + 1 == chunk_size:
                out.append({"index": index, "file": str(path), "file_index": file_index, "kind": "text",
                            "first_row": first, "n_rows": chunk_size, "start": start, "end": data_offset})
                index, start, first = index + 1, data_offset, row + 1
        if row >= first:
            out.append({"index": index, "file": str(path), "file_index": file_index, "kind": "text",
                        "first_row": first, "n_rows": row - first + 1, "start": start, "end": data_offset})
    return out


def chunk_descriptors(files: list[Path], chunk_size: int, smiles_column: str, stage_dir: Path
                      ) -> list[dict]:
    """One small dict per chunk, numbered like :func:`molgate.screen.reader.iter_chunks`."""
    out: list[dict] = []
    for file_index, path in enumerate(files):
        kind, gz = file_kind(path)
        if kind == "text" and not gz and b"\r" not in _sample(path):
            out += _text_descriptors(path, file_index, chunk_size, len(out))
        elif kind == "parquet":
            n = pq.ParquetFile(path).metadata.num_rows
            for first in range(0, n, chunk_size):
                out.append({"index": len(out), "file": str(path), "file_index": file_index, "kind": "parquet",
                            "first_row": first + 1, "n_rows": min(chunk_size, n - first), "start": 0, "end": 0})
        else:  # stage: CSV rows may hold quoted newlines, gzip cannot seek
            start_index = len(out)
            for chunk in iter_chunks([path], chunk_size, smiles_column):
                index = start_index + chunk.index
                staged = stage_dir / f"input-{index:08d}.parquet"
                if not staged.exists():
                    tmp = staged.with_name(staged.name + ".tmp")
                    pq.write_table(pa.table({"row": chunk.rows, "smiles": chunk.smiles}), tmp)
                    os.replace(tmp, staged)
                out.append({"index": index, "file": str(path), "file_index": file_index, "kind": "staged",
                            "first_row": chunk.rows[0], "n_rows": len(chunk.rows), "start": 0, "end": 0,
                            "staged": str(staged)})
    return out


def _sample(path: Path, size: int = 1 << 16) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def read_chunk(d: dict, smiles_column: str) -> LibraryChunk:
    """The chunk a descriptor points at."""
    rows = list(range(d["first_row"], d["first_row"] + d["n_rows"]))
    if d["kind"] == "text":
        with open(d["file"], "rb") as fh:
            fh.seek(d["start"])
            text = fh.read(d["end"] - d["start"]).decode("utf-8")
        smiles = [(line.split() or [""])[0] for line in io.StringIO(text, newline=None)]
    elif d["kind"] == "parquet":
        smiles = _parquet_rows(d["file"], smiles_column, d["first_row"] - 1, d["n_rows"])
    else:
        table = pq.read_table(d["staged"])
        rows, smiles = table.column("row").to_pylist(), table.column("smiles").to_pylist()
    if len(smiles) != len(rows):
        raise RuntimeError(f"{d['file']}: chunk {d['index']} has {len(smiles)} rows, expected {len(rows)}")
    return LibraryChunk(int(d["index"]), d["file"], rows, [("" if s is None else str(s)) for s in smiles])


def _parquet_rows(path: str, column: str, offset: int, n: int) -> list[str]:
    pf = pq.ParquetFile(path)
    groups, seen, skip = [], 0, 0
    for g in range(pf.metadata.num_row_groups):
        size = pf.metadata.row_group(g).num_rows
        if seen + size > offset and seen < offset + n:
            if not groups:
                skip = offset - seen
            groups.append(g)
        seen += size
    values = pf.read_row_groups(groups, columns=[column]).column(0).to_pylist()
    return values[skip:skip + n]


class RayChunkScreener:
    """A Ray Data actor around :class:`~molgate.screen.chunk_screener.ChunkScreener`: models
    loaded once, then one chunk per call."""

    def __init__(self, **kwargs):
        self.screener = ChunkScreener(**kwargs)

    def __call__(self, batch: dict) -> dict:
        n_read = []
        keys = list(batch)
        for i in range(len(batch["index"])):
            d = {k: (batch[k][i].item() if hasattr(batch[k][i], "item") else batch[k][i]) for k in keys}
            n_read.append(self.screener(read_chunk(d, self.screener.settings.smiles_column)))
        return {"index": np.asarray(batch["index"]), "read": np.asarray(n_read)}


def screen_with_ray(models: ScreenModels, files: list[Path], out: Path, settings: ScreenSettings, workers: int,
                    progress: bool, parts: Path, signature: str, done: set[int]) -> ScreenSummary:
    import ray  # lazy: an optional dependency (pip install molgate[ray]), only for --engine ray

    stage = parts / "inputs"
    stage.mkdir(exist_ok=True)
    todo = [d for d in chunk_descriptors(files, settings.chunk_size, settings.smiles_column, stage)
            if d["index"] not in done]
    for d in todo:
        d.setdefault("staged", "")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=os.environ.get("RAY_ADDRESS"), num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = False
    start = time.perf_counter()
    read_now = 0
    bar = progress_bar(files, settings.smiles_column, len(done) * settings.chunk_size, progress,
                       desc="screen (ray)")
    try:
        if todo:
            ds = ray.data.from_items(todo, override_num_blocks=max(1, min(len(todo), 8 * workers)))
            ds = ds.map_batches(
                RayChunkScreener, batch_size=1, num_cpus=1, concurrency=workers,
                fn_constructor_kwargs=dict(
                    model_dirs=models.dirs, device=None, settings=asdict(settings),
                    reference=reference_smiles(models.dirs) if settings.domain else None, parts=str(parts),
                    files=[str(f) for f in files], threads=1))
            for batch in ds.iter_batches(batch_size=1, batch_format="numpy"):
                n = int(batch["read"].sum())
                read_now += n
                bar.update(n)
    finally:
        bar.close()
        if started_here:
            ray.shutdown()
    return complete(parts, out, output_schema(models, settings), signature, len(done), read_now,
                    time.perf_counter() - start)
