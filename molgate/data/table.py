"""Read molecule tables (wide or long, CSV or Parquet), validate them, and say what was rejected.

A *wide* table has a SMILES column and one column per task; a molecule may carry any subset of the
tasks (empty / NaN = unknown). A *long* table has one row per (smiles, task, value). Both become a
:class:`MoleculeTable`: canonical SMILES, an ``[n, K]`` label matrix with NaN where unknown, and for
every record the input rows it came from.

Nothing is dropped silently. With ``on_invalid="error"`` (default) the first problem raises an
:class:`~molgate.errors.InputError` naming file, row and column. With ``on_invalid="skip"`` bad rows
(invalid SMILES) and bad cells (non-numeric or infinite labels) are left out and returned as
:class:`Reject` records, which :func:`write_rejects` saves with their reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger

from molgate.data.smiles import is_multi_fragment, keep_largest_fragment, parse_smiles
from molgate.errors import InputError

logger = logging.getLogger("molgate")

MISSING_TOKENS = {"", "nan", "NaN", "NAN", "na", "NA", "N/A", "n/a", "null", "NULL", "None", "none"}
ON_INVALID = ("error", "skip")
# Models standardise labels and hold them in float32 (largest 3.4e38): beyond this a task's mean
# and spread overflow and every prediction of the task becomes inf, silently.
LABEL_LIMIT = 1e30


@dataclass(frozen=True)
class Reject:
    """One rejected row (column None or the SMILES column) or one rejected label cell."""

    row: int
    column: str | None
    value: str
    reason: str
    smiles: str | None = None


@dataclass
class MoleculeTable:
    """Validated molecules and labels; one record per canonical SMILES."""

    smiles: list[str]
    y: np.ndarray  # [n, K] float64, NaN = unknown
    tasks: list[str]
    source_rows: list[list[int]] = field(default_factory=list)  # 1-based data rows per record
    source: str = "<memory>"
    input_smiles: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.y = np.array(self.y, dtype=np.float64).reshape(len(self.smiles), len(self.tasks))  # own, writable
        if not self.source_rows:
            self.source_rows = [[i + 1] for i in range(len(self.smiles))]
        if not self.input_smiles:
            self.input_smiles = list(self.smiles)

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def mask(self) -> np.ndarray:
        """True where a label exists."""
        return ~np.isnan(self.y)

    def label_counts(self) -> dict[str, int]:
        return {t: int(c) for t, c in zip(self.tasks, self.mask.sum(0))}

    def subset(self, indices) -> "MoleculeTable":
        idx = np.asarray(indices, dtype=int)
        return MoleculeTable(
            smiles=[self.smiles[i] for i in idx],
            y=self.y[idx],
            tasks=list(self.tasks),
            source_rows=[self.source_rows[i] for i in idx],
            source=self.source,
            input_smiles=[self.input_smiles[i] for i in idx],
        )

    def select_tasks(self, tasks: list[str]) -> "MoleculeTable":
        cols = [self.tasks.index(t) for t in tasks]
        return MoleculeTable(list(self.smiles), self.y[:, cols], list(tasks),
                             self.source_rows, self.source, self.input_smiles)

    def to_frame(self, smiles_column: str = "smiles") -> pd.DataFrame:
        df = pd.DataFrame(self.y, columns=self.tasks)
        df.insert(0, smiles_column, self.smiles)
        return df


def read_frame(path: str | Path) -> pd.DataFrame:
    """Load CSV (optionally .gz) or Parquet with every cell as text for CSV, so we can validate it."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    name = path.name.lower()
    try:
        if name.endswith(".parquet") or name.endswith(".pq"):
            df = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz")):
            sep = "\t" if ".tsv" in name else ","
            df = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
            _check_header(pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, header=None,
                                      nrows=1).iloc[0].tolist(), str(path))
        else:
            raise InputError("unknown file type (expected .csv, .csv.gz, .tsv or .parquet)", file=str(path))
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty", file=str(path)) from None
    except Exception as exc:  # parser errors carry their own line numbers
        raise InputError(f"cannot read the file: {exc}", file=str(path)) from None
    if len(df.columns) == 0 or len(df) == 0:
        raise InputError("the file has no data rows", file=str(path))
    return df


def _check_header(names: list[str], file: str) -> None:
    """pandas renames a repeated column ``a`` to ``a.1``; a label column would then be read under
    a name the user never wrote, so a repeated name is an error instead."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(f"column name repeated in the header (columns {seen[name]} and {i}); "
                             "give every column its own name", file=file, column=name)
        seen[name] = i


def _is_csv(path: Path) -> bool:
    return not path.name.lower().endswith((".parquet", ".pq"))


def _fail_or_collect(on_invalid: str, rejects: list[Reject], err: InputError, reject: Reject):
    if on_invalid == "error":
        raise err
    rejects.append(reject)


def canonicalize(smiles: str) -> str | None:
    """RDKit canonical SMILES, or None when it is not one whole valid SMILES
    (see :mod:`molgate.data.smiles`)."""
    mol, _ = parse_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def parse_smiles_column(values, file: str, column: str, on_invalid: str, csv: bool,
                        rejects: list[Reject], largest_fragment: bool = False) -> list[str | None]:
    """Canonicalise every SMILES; invalid ones raise or become rejects (None in the result).

    Multi-fragment SMILES (salts, mixtures) are kept whole unless ``largest_fragment``; either
    way a warning counts them, because a counter-ion silently changes the graph the model sees.
    """
    out: list[str | None] = []
    multi: list[int] = []
    RDLogger.DisableLog("rdApp.*")
    try:
        for i, raw in enumerate(values):
            text = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw)
            mol, reason = parse_smiles(text)
            if mol is None:
                _fail_or_collect(on_invalid, rejects,
                                 InputError(reason, file, i + 1, column, i + 2 if csv else None),
                                 Reject(i + 1, column, text, reason))
                out.append(None)
                continue
            if is_multi_fragment(text, mol):
                multi.append(i + 1)
                if largest_fragment:
                    mol = keep_largest_fragment(mol)
            out.append(Chem.MolToSmiles(mol))
    finally:
        RDLogger.EnableLog("rdApp.*")
    if multi:
        what = ("only the largest fragment is kept (--largest-fragment)" if largest_fragment else
                "each is modelled as one graph of all its fragments; --largest-fragment keeps the largest")
        logger.warning("%s, column '%s': %d SMILES have several fragments (salts or mixtures; first: "
                       "row %d); %s", file, column, len(multi), multi[0], what)
    return out


def parse_label_column(values: pd.Series, file: str, column: str, on_invalid: str, csv: bool,
                       rejects: list[Reject], smiles: list[str | None]) -> np.ndarray:
    """Numbers from a label column: missing stays NaN; text and +-inf raise or become rejects."""
    raw = values.to_numpy(dtype=object)
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        text = np.array(["" if v is None else str(v).strip() for v in raw], dtype=object)
        missing = np.isin(text, list(MISSING_TOKENS))
    else:
        text = raw.astype(str)
        missing = np.isnan(numeric)
    bad_text = np.isnan(numeric) & ~missing
    bad_inf = np.isinf(numeric)
    with np.errstate(invalid="ignore"):
        bad_huge = np.abs(numeric) > LABEL_LIMIT
    for i in np.flatnonzero(bad_text | bad_inf | bad_huge):
        if smiles[i] is None:
            continue  # the row is already rejected for its SMILES
        reason = (f"non-numeric label '{text[i]}'" if bad_text[i]
                  else f"infinite label '{text[i]}'" if bad_inf[i]
                  else f"label '{text[i]}' is too large to standardise (|value| > {LABEL_LIMIT:g}); "
                       "rescale the task, e.g. take log10")
        _fail_or_collect(on_invalid, rejects,
                         InputError(reason, file, int(i) + 1, column, int(i) + 2 if csv else None),
                         Reject(int(i) + 1, column, str(text[i]), reason, smiles[i]))
    numeric[bad_text | bad_inf | bad_huge] = np.nan
    return numeric


def _long_to_wide(df: pd.DataFrame, file: str, smiles_column: str, task_column: str,
                  value_column: str, targets) -> tuple[pd.DataFrame, list[str]]:
    for col in (task_column, value_column):
        if col not in df.columns:
            raise InputError(f"missing column (long format needs '{smiles_column}', '{task_column}', "
                             f"'{value_column}'; found {list(df.columns)})", file=file, column=col)
    ignored = [c for c in df.columns if c not in (smiles_column, task_column, value_column)]
    if ignored:
        logger.warning("%s: read as long format (%s, %s, %s); columns %s are not used (--format wide "
                       "reads every column as a task)", file, smiles_column, task_column, value_column,
                       ignored)
    tasks_in_file = list(dict.fromkeys(str(t) for t in df[task_column] if str(t).strip()))
    tasks = list(targets) if targets else tasks_in_file
    for t in tasks:
        if t not in tasks_in_file:
            raise InputError(f"task '{t}' does not occur (tasks in file: {tasks_in_file})",
                             file=file, column=task_column)
    wide = pd.DataFrame({smiles_column: df[smiles_column]})
    values = df[value_column]
    for t in tasks:
        wide[t] = values.where(df[task_column].astype(str) == t, "" if values.dtype == object else np.nan)
    return wide, tasks


def _looks_long(df: pd.DataFrame, task_column: str, value_column: str, targets) -> bool:
    """Long format only when the task and value columns exist, the targets (if given) are not all
    columns of their own, and the task column holds names rather than numbers: a wide file may
    well have properties called ``task`` and ``value``."""
    if task_column not in df.columns or value_column not in df.columns:
        return False
    if targets and all(t in df.columns for t in targets):
        return False
    names = df[task_column].astype(str).str.strip()
    names = names[~names.isin(MISSING_TOKENS)]
    return len(names) > 0 and bool(pd.to_numeric(names, errors="coerce").isna().any())


def read_table(path: str | Path, smiles_column: str = "smiles", targets: list[str] | None = None,
               *, long_format: bool | None = None, task_column: str = "task",
               value_column: str = "value", on_invalid: str = "error",
               require_labels: bool = True, largest_fragment: bool = False
               ) -> tuple[MoleculeTable, list[Reject]]:
    """Read and validate a molecule table.

    ``targets=None`` takes every column except the SMILES column (wide) or every task (long).
    ``long_format=None`` detects the long format (see :func:`_looks_long`); True or False forces it.
    Duplicate SMILES (after canonicalisation) are merged, per task, by the median, and a conflict
    is logged. With ``require_labels`` a selected task with no label at all is an error.
    """
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    path = Path(path)
    file = str(path)
    df = read_frame(path)
    csv = _is_csv(path)
    if smiles_column not in df.columns:
        raise InputError(f"missing SMILES column (columns are {list(df.columns)})", file=file,
                         column=smiles_column)
    if long_format is None:
        long_format = _looks_long(df, task_column, value_column, targets)
    rejects: list[Reject] = []
    if long_format:
        df, targets = _long_to_wide(df, file, smiles_column, task_column, value_column, targets)
    elif targets is None:
        targets = [c for c in df.columns if c != smiles_column]
    else:
        for t in targets:
            if t not in df.columns:
                raise InputError(f"missing target column (columns are {list(df.columns)})",
                                 file=file, column=t)
    if require_labels and not targets:
        raise InputError("no target columns", file=file)

    smiles = parse_smiles_column(df[smiles_column].tolist(), file, smiles_column, on_invalid, csv,
                                 rejects, largest_fragment)
    y = np.column_stack([
        parse_label_column(df[t], file, t, on_invalid, csv, rejects, smiles) for t in targets
    ]) if targets else np.zeros((len(df), 0))

    keep = np.array([s is not None for s in smiles], dtype=bool)
    if require_labels and targets:
        counts = (~np.isnan(y[keep])).sum(0)
        for t, c in zip(targets, counts):
            if c == 0:
                raise InputError("the task has no labels", file=file, column=t)
        unlabelled = keep & np.isnan(y).all(1)
        n_unlabelled = int(unlabelled.sum())
        if n_unlabelled:
            logger.warning("%s: %d row(s) carry no label of the selected targets and are not used "
                           "(first: row %d)", file, n_unlabelled, int(np.flatnonzero(unlabelled)[0]) + 1)
            keep &= ~unlabelled
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise InputError("no valid rows left", file=file)
    table = _merge_duplicates([smiles[i] for i in rows],
                              [str(df[smiles_column].iloc[i]) for i in rows],
                              y[rows], list(targets), (rows + 1).tolist(), file)
    return table, rejects


def _merge_duplicates(smiles, input_smiles, y, tasks, rows, file) -> MoleculeTable:
    """One record per canonical SMILES; labels merged per task by the median, conflicts logged."""
    codes, uniques = pd.factorize(pd.Series(smiles), sort=False)
    if len(uniques) == len(smiles):
        return MoleculeTable(list(smiles), y, tasks, [[r] for r in rows], file, list(input_smiles))
    frame = pd.DataFrame(y, columns=range(len(tasks)))
    frame["_g"] = codes
    grouped = frame.groupby("_g", sort=True)
    merged = grouped.median().to_numpy()
    spread = (grouped.max() - grouped.min()).to_numpy()
    conflicts = np.nan_to_num(spread) > 0
    sources: list[list[int]] = [[] for _ in range(len(uniques))]
    first_input = [""] * len(uniques)
    for c, r, s in zip(codes, rows, input_smiles):
        if not sources[c]:
            first_input[c] = s
        sources[c].append(r)
    n_dup = sum(len(s) > 1 for s in sources)
    logger.warning("%s: %d molecule(s) occur in more than one row (same canonical SMILES); "
                   "their labels are merged by the median", file, n_dup)
    for k, t in enumerate(tasks):
        n_conf = int(conflicts[:, k].sum())
        if n_conf:
            g = int(np.flatnonzero(conflicts[:, k])[0])
            logger.warning("%s, column '%s': %d duplicate molecule(s) have conflicting values, "
                           "aggregated by median (e.g. rows %s, %s)", file, t, n_conf,
                           sources[g], uniques[g])
    return MoleculeTable(list(uniques), merged, tasks, sources, file, first_input)


def read_smiles(path: str | Path, smiles_column: str = "smiles", on_invalid: str = "error",
                largest_fragment: bool = False) -> tuple[pd.DataFrame, list[str | None], list[Reject]]:
    """For prediction: the input frame, canonical SMILES per row (None where rejected), rejects."""
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    path = Path(path)
    df = read_frame(path)
    if smiles_column not in df.columns:
        raise InputError(f"missing SMILES column (columns are {list(df.columns)})", file=str(path),
                         column=smiles_column)
    rejects: list[Reject] = []
    smiles = parse_smiles_column(df[smiles_column].tolist(), str(path), smiles_column, on_invalid,
                                 _is_csv(path), rejects, largest_fragment)
    return df, smiles, rejects


def rejects_path(out: str | Path) -> Path:
    """``OUT.rejects.csv`` beside the output (the suffix of a file output is replaced)."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".csv", ".parquet", ".pq", ".tsv") else out
    return stem.parent / (stem.name + ".rejects.csv")


def write_rejects(rejects: list[Reject], out: str | Path) -> Path | None:
    """Write rejects with their reasons; returns the path, or None when nothing was rejected.

    A rejects file left by an earlier run into the same output is removed when nothing is
    rejected now: beside a new result it would describe data that result never read.
    """
    path = rejects_path(out)
    if not rejects:
        if path.is_file():
            path.unlink()
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([r.__dict__ for r in rejects]).to_csv(path, index=False)
    logger.warning("%d rejected row(s)/value(s) written to %s", len(rejects), path)
    return path
