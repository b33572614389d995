"""Run one benchmark job: a method on a saved split, giving test predictions in original units.

Every runner returns the same long table (``task, smiles, y_true, y_pred``) for the test molecules
that carry a label, so metrics, ranks and plots are computed the same way for every method.
Chemprop runs through its own CLI (``chemprop train``) on the same molecules and the same split
indices; its ``test_predictions.csv`` is read back.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from molgate.benchmark.plan import STRONG_ALIGNMENT, BenchmarkConfig, Job
from molgate.data.splits import Split, write_chemprop_splits
from molgate.data.table import MoleculeTable
from molgate.errors import MolgateError
from molgate.estimator import PropertyRegressor
from molgate.jobs.train import train
from molgate.methods import GateConfig


def long_predictions(table: MoleculeTable, test: np.ndarray, pred: np.ndarray, tasks: list[str]
                     ) -> pd.DataFrame:
    """``[n_test, K]`` predictions -> rows ``task, smiles, y_true, y_pred`` where a label exists."""
    rows = []
    for k, task in enumerate(tasks):
        y = table.y[test, table.tasks.index(task)]
        keep = ~np.isnan(y)
        rows.append(pd.DataFrame({"task": task, "smiles": np.asarray(table.smiles, dtype=object)[test][keep],
                                  "y_true": y[keep], "y_pred": pred[keep, k]}))
    return pd.concat(rows, ignore_index=True)


def molgate_method(name: str, gate: GateConfig) -> tuple[str, GateConfig, str | None]:
    """A benchmark method name -> (the ``method`` of :func:`~molgate.jobs.train.train`, GATE settings,
    regression reduction)."""
    if name == "mtl-balanced":
        return "mtl", gate, "per-task"
    if name == "gate-noalign":
        off = replace(gate.weights, use_auto=False, use_cons=False, use_map=False, use_dis=False)
        return "gate", replace(gate, weights=off), None
    if name == "gate-fast":
        return "gate", replace(gate, perturb_molecules=16, weights=replace(gate.weights, map_sources=3)), None
    if name == "gate-separate-strong":
        return "gate", replace(gate, sharing="separate", weights=replace(gate.weights, **STRONG_ALIGNMENT)), None
    if name == "gate-separate-nodis":
        strong = replace(gate.weights, **STRONG_ALIGNMENT, use_dis=False)
        return "gate", replace(gate, sharing="separate", weights=strong), None
    if name == "gate-separate-molpert":
        strong = replace(gate.weights, **dict(STRONG_ALIGNMENT, delta=3500.0))
        return "gate", replace(gate, sharing="separate", perturb_at="molecule", weights=strong), None
    if name == "gate-separate-noalign":
        return molgate_method("gate-noalign", replace(gate, sharing="separate"))
    if name in ("gate-trunk", "gate-separate"):
        return "gate", replace(gate, sharing=name.split("-")[1]), None
    return name, gate, None


def run_molgate(job: Job, config: BenchmarkConfig, table: MoleculeTable, data_file: Path,
                split_file: Path, split: Split, folder: Path) -> pd.DataFrame:
    method, gate, reduction = molgate_method(job.method, config.gate)
    result = train(data_file, targets=table.tasks, method=method, split_file=split_file,
                   seed=job.seed, out=folder / "model", epochs=config.epochs,
                   patience=config.patience, hidden_size=config.hidden_size,
                   ffn_hidden_size=config.hidden_size, batch_size=config.batch_size,
                   progress=False, gate=gate, reduction=reduction, aggregation=config.aggregation)
    est = PropertyRegressor.load(result.model_dir)
    pred = est.predict([table.smiles[i] for i in split.test])
    return long_predictions(table, split.test, pred, table.tasks)


def chemprop_command(csv: Path, tasks: list[str], splits_file: Path, out: Path, config: BenchmarkConfig,
                     seed: int, extra: list[str] = ()) -> list[str]:
    """``chemprop train`` with molgate's baseline settings (the same aggregation and sizes), then
    ``extra`` options (e.g. ``--from-foundation FILE``)."""
    exe = Path(sys.executable).with_name("chemprop")
    return [str(exe), "train", "-i", str(csv), "-s", "smiles", "--target-columns", *tasks,
            "--splits-file", str(splits_file), "--epochs", str(config.epochs),
            "--patience", str(config.patience), "--aggregation", config.aggregation,
            "--message-hidden-dim", str(config.hidden_size), "--ffn-hidden-dim", str(config.hidden_size),
            "-b", str(config.batch_size), "--accelerator", "cpu", "--devices", "1",
            "--num-workers", "0", "--data-seed", str(seed), "--pytorch-seed", str(seed), "-o", str(out),
            *extra]


def run_chemprop(job: Job, config: BenchmarkConfig, table: MoleculeTable, split: Split,
                 folder: Path, extra: list[str] = ()) -> pd.DataFrame:
    """``chemprop-mtl``: one multi-task run; ``chemprop-stl``: one run per task on its molecules.
    ``extra``: more ``chemprop train`` options for every run."""
    groups = [table.tasks] if job.method == "chemprop-mtl" else [[t] for t in table.tasks]
    frames = []
    for group in groups:
        cols = [table.tasks.index(t) for t in group]
        labelled = ~np.isnan(table.y[:, cols]).all(axis=1)
        parts = {p: idx[labelled[idx]] for p, idx in split.parts().items()}
        rows = np.concatenate(list(parts.values()))
        where = {int(r): i for i, r in enumerate(rows)}
        name = "all" if len(groups) == 1 else group[0]
        work = folder / f"chemprop_{name}"
        work.mkdir(parents=True, exist_ok=True)
        csv = work / "data.csv"
        frame = pd.DataFrame(table.y[rows][:, cols], columns=group)
        frame.insert(0, "smiles", [table.smiles[i] for i in rows])
        frame.to_csv(csv, index=False)
        splits_file = write_chemprop_splits(
            Split(*(np.array([where[int(i)] for i in idx], dtype=int) for idx in parts.values())),
            work / "splits.json")
        log = work / "chemprop.log"
        with log.open("w") as fh:
            code = subprocess.run(chemprop_command(csv, group, splits_file, work / "run", config, job.seed, extra),
                                  stdout=fh, stderr=subprocess.STDOUT).returncode
        if code != 0:
            tail = log.read_text().strip().splitlines()[-3:]
            raise MolgateError(f"chemprop train failed for {group} (see {log}): {' | '.join(tail)}")
        preds = pd.read_csv(work / "run" / "model_0" / "test_predictions.csv")
        by_smiles = preds.drop_duplicates("smiles").set_index("smiles")
        test = parts["test"]
        pred = by_smiles.loc[[table.smiles[i] for i in test], group].to_numpy(dtype=np.float64)
        frames.append(long_predictions(table, test, pred, group))
    return pd.concat(frames, ignore_index=True)
