"""Stream a screening library in fixed-size chunks, whatever its size.

Libraries are SMILES text (``.smi``/``.txt``: the first whitespace-separated field of each line),
CSV/TSV (a SMILES column) or Parquet, optionally gzipped (text and CSV), and may span several
files. Chunks are numbered over the concatenation of the files, so the same files and chunk size
always give the same chunks: that is what makes a screen resumable. Only one chunk is in memory.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from molgate.errors import InputError

TEXT = (".smi", ".txt", ".smiles")
TABLE = (".csv", ".tsv")


@dataclass
class LibraryChunk:
    index: int  # position of the chunk over all files
    file: str
    rows: list[int]  # 1-based data rows within the file
    smiles: list[str]


def file_kind(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if ext in TEXT:
        return "text", gz
    if ext in TABLE:
        return ext[1:], gz
    if ext in (".parquet", ".pq") and not gz:
        return "parquet", False
    raise InputError("unknown library format: use .smi/.txt, .csv/.tsv (optionally .gz) or .parquet",
                     file=str(path))


def _open_text(path: Path, gz: bool):
    return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8") if gz else open(path, encoding="utf-8")


def _text_rows(path: Path, gz: bool) -> Iterator[tuple[int, str]]:
    with _open_text(path, gz) as fh:
        for i, line in enumerate(fh, start=1):
            fields = line.split()
            yield i, fields[0] if fields else ""


def _table_batches(path: Path, kind: str, gz: bool, column: str, batch_rows: int
                   ) -> Iterator[list[str]]:
    if kind == "parquet":
        pf = pq.ParquetFile(path)
        if column not in pf.schema_arrow.names:
            raise InputError(f"missing SMILES column (columns are {pf.schema_arrow.names})", file=str(path),
                             column=column)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=[column]):
            yield [("" if v is None else str(v)) for v in batch.column(0).to_pylist()]
        return
    parse = pacsv.ParseOptions(delimiter="\t" if kind == "tsv" else ",")
    read = pacsv.ReadOptions(block_size=1 << 22)
    convert = pacsv.ConvertOptions(include_columns=[column], column_types={column: "string"})
    source = gzip.open(path, "rb") if gz else open(path, "rb")
    with source:
        try:
            reader = pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert)
        except Exception as exc:  # pyarrow names the missing column in its message
            raise InputError(f"cannot read the SMILES column: {exc}", file=str(path), column=column) from None
        for batch in reader:
            yield [("" if v is None else v) for v in batch.column(0).to_pylist()]


def _file_rows(path: Path, column: str, batch_rows: int) -> Iterator[tuple[int, str]]:
    kind, gz = file_kind(path)
    if kind == "text":
        yield from _text_rows(path, gz)
        return
    row = 0
    for values in _table_batches(path, kind, gz, column, batch_rows):
        for v in values:
            row += 1
            yield row, v


def check_library(files: list[str | Path], smiles_column: str = "smiles") -> None:
    """Fail before any work: every file exists, has a known format and (tables) the column."""
    if not files:
        raise InputError("no library file given")
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise InputError("library file not found", file=str(path))
        kind, _ = file_kind(path)
        if kind == "parquet" and smiles_column not in pq.ParquetFile(path).schema_arrow.names:
            raise InputError("missing SMILES column", file=str(path), column=smiles_column)


def count_rows(files: list[str | Path], smiles_column: str = "smiles") -> int:
    """Rows in all files (Parquet from its metadata; text by a fast line count) for the ETA."""
    total = 0
    for f in files:
        path = Path(f)
        kind, gz = file_kind(path)
        if kind == "parquet":
            total += pq.ParquetFile(path).metadata.num_rows
            continue
        opener = gzip.open if gz else open
        with opener(path, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 22), b""))
        if kind != "text":
            lines -= 1  # the header
        total += max(lines, 0)
    return total


def iter_chunks(files: list[str | Path], chunk_size: int = 10_000, smiles_column: str = "smiles",
                skip: set[int] | None = None) -> Iterator[LibraryChunk]:
    """Chunks of at most ``chunk_size`` SMILES; chunks in ``skip`` are read past, not yielded."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    skip = skip or set()
    index = 0
    for f in files:
        path = Path(f)
        rows: list[int] = []
        smiles: list[str] = []
        for row, s in _file_rows(path, smiles_column, chunk_size):
            rows.append(row)
            smiles.append(s)
            if len(rows) == chunk_size:
                if index not in skip:
                    yield LibraryChunk(index, str(path), rows, smiles)
                index += 1
                rows, smiles = [], []
        if rows:
            if index not in skip:
                yield LibraryChunk(index, str(path), rows, smiles)
            index += 1


def progress_bar(files: list[Path], smiles_column: str, rows_done: int, progress: bool,
                 desc: str = "screen") -> tqdm:
    """Molecules read, with rate and ETA; ``rows_done`` (chunks done before) count as read."""
    total = count_rows(files, smiles_column)
    bar = tqdm(total=total, unit="mol", desc=desc, disable=not progress, smoothing=0.1)
    bar.update(min(total, rows_done))
    return bar
