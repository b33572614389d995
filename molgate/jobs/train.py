"""``molgate train``: read, validate, split, featurise, train and save a model folder.

The workflow around :class:`molgate.estimator.PropertyRegressor`: the data are read and checked
(:mod:`molgate.data.table`), split or given a split file, the split and its per-task counts are
recorded (:mod:`molgate.data.run_inputs`), the estimator fits, and the folder is written
atomically (:mod:`molgate.outputs`) with the test molecules for ``molgate evaluate``. With
``--transfer-ratios grid`` it trains one model per grid point and keeps the best
(:mod:`molgate.methods.ratio_io`); with ``--ensemble-size`` more seeds (:mod:`molgate.ensemble`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from molgate.data.run_inputs import split_and_record, units_from_manifest
from molgate.data.table import read_table, rejects_path
from molgate.ensemble import fit_members
from molgate.errors import InputError
from molgate.estimator import PropertyRegressor
from molgate.methods.ratio_io import grid_search, read_ratios
from molgate.outputs import check_model_out, is_global_zero, staged_model_dir


@dataclass
class TrainResult:
    model_dir: Path
    tasks: list[str]
    split_counts: pd.DataFrame
    rejects_file: Path | None
    seconds: float
    molecules_per_second: float
    fit: dict = field(default_factory=dict)


def train(data: str | Path, targets: list[str] | None = None, smiles_column: str = "smiles",
          method: str = "mtl", split: str = "scaffold", seed: int = 0, out: str | Path = "runs/model",
          split_file: str | Path | None = None, split_sizes=(0.8, 0.1, 0.1),
          on_invalid: str = "error", long_format: bool | None = None,
          transfer_ratios: str = "uniform", ratios_file: str | Path | None = None,
          grid_values=(0.0, 1.0, 3.0), overwrite: bool = True, largest_fragment: bool = False,
          ensemble_size: int = 1, **params) -> TrainResult:
    """Read, validate, split, featurise, train, save: ``molgate train``.

    ``params`` are :class:`PropertyRegressor` parameters (epochs, batch_size, hidden_size, ...).
    GATE's ``transfer_ratios``: ``uniform`` (all ones), ``learned`` (bi-level, on the validation
    split), ``fixed`` (``ratios_file``: JSON source -> target -> value) or ``grid`` (every
    combination of ``grid_values`` for the symmetric pairs of a few tasks, chosen by validation
    loss; each point trains a model under ``OUT/grid/``).
    Written atomically (:mod:`molgate.outputs`); ``overwrite`` is on by default here, unlike the
    CLI's ``--overwrite``, because scripts (benchmark, main job) rerun into the same folders.
    ``ensemble_size`` N > 1 adds N - 1 more seeds on the same split (:mod:`molgate.ensemble`).
    """
    out = Path(out)
    if ensemble_size > 1 and (transfer_ratios == "grid" or params.get("devices", 1) > 1):
        raise InputError("--ensemble-size trains its members one after another in one process; "
                         "use it without --transfer-ratios grid and --devices")
    if transfer_ratios == "grid":  # resumable: a folder holding an unfinished grid is continued
        check_model_out(out, overwrite or (out / "grid").is_dir(), [p for p in (data, split_file) if p])
        return _grid_search(data, targets, smiles_column, method, split, seed, out, split_file,
                            split_sizes, on_invalid, long_format, grid_values,
                            {**params, "largest_fragment": largest_fragment})
    if transfer_ratios == "fixed":
        if ratios_file is None:
            raise InputError("--transfer-ratios fixed needs --ratios-file")
        params["ratios"] = read_ratios(ratios_file)
    if transfer_ratios != "uniform" and method != "gate":
        raise InputError(f"--transfer-ratios {transfer_ratios} applies to --method gate, not {method}"
                         + (" (gate-pair transfers from the source to the target only)"
                            if method == "gate-pair" else ""))
    params["transfer_ratios"] = transfer_ratios
    writer = is_global_zero()  # with DDP every process runs this function; one writes
    inputs = [p for p in (data, split_file, ratios_file) if p is not None]
    with staged_model_dir(out, overwrite, inputs, writer) as stage:
        table, rejects = read_table(data, smiles_column, targets, long_format=long_format,
                                    on_invalid=on_invalid, largest_fragment=largest_fragment)
        the_split, counts, rejects_file = split_and_record(table, rejects, data, stage, split, seed,
                                                            split_file, split_sizes, writer, out)
        est = PropertyRegressor(method=method, seed=seed, **params).fit(table, the_split, stage)
        if not writer:
            return TrainResult(out, table.tasks, counts, None, 0.0, 0.0,
                               {k: asdict(v) for k, v in est.fit_results_.items()})
        units = units_from_manifest(data, table.tasks)
        test = table.subset(the_split.test).to_frame(smiles_column)
        test.to_csv(stage / "test_set.csv", index=False)
        seconds = sum(r.seconds for r in est.fit_results_.values())
        seen = sum(r.train_molecules * r.epochs_run for r in est.fit_results_.values())
        extra = {"data": {"file": str(Path(data).resolve()), "smiles_column": smiles_column,
                          "split": the_split.kind, "seed": seed, "rejects": str(rejects_file or ""),
                          "largest_fragment": largest_fragment},
                 "throughput": {"seconds": seconds, "molecules_per_second": seen / max(seconds, 1e-9)}}
        est.save(stage, units, extra=extra)
        fit_members(lambda k: PropertyRegressor(method=method, seed=seed + k, **params), table, the_split,
                    stage, ensemble_size, lambda member, folder: member.save(folder, units, extra=extra))
    return TrainResult(out, table.tasks, counts, rejects_file, seconds, seen / max(seconds, 1e-9),
                       {k: asdict(v) for k, v in est.fit_results_.items()})


def _grid_search(data, targets, smiles_column, method, split, seed, out: Path, split_file,
                 split_sizes, on_invalid, long_format, grid_values, params) -> TrainResult:
    """Train GATE at every symmetric grid point of the transfer ratios; keep the best by validation
    (:func:`molgate.methods.ratio_io.grid_search`)."""
    table, _ = read_table(data, smiles_column, targets, long_format=long_format, on_invalid=on_invalid)
    tasks = table.tasks
    if method != "gate":
        raise InputError("--transfer-ratios grid is for GATE with 2 to 4 tasks "
                         f"({len(tasks)} given: {tasks})")

    def train_point(folder: Path, ratios_file: Path) -> tuple[float, float]:
        r = train(data, tasks, smiles_column, method, split, seed, folder, split_file, split_sizes,
                  on_invalid, long_format, "fixed", ratios_file, **params)
        return r.fit["all"]["best_val_loss"], r.seconds

    rows, best = grid_search(tasks, grid_values, out, train_point)
    config = json.loads((out / "config.json").read_text())
    counts = pd.read_csv(out / "split_counts.csv", index_col=0)
    rejects = rejects_path(out) if rejects_path(out).exists() else None
    seconds = float(sum(row["seconds"] for row in rows))
    return TrainResult(out, list(config["tasks"]), counts, rejects, seconds,
                       float(config.get("throughput", {}).get("molecules_per_second", 0.0)),
                       {"grid": rows, "best": best, **config["fit"]})
