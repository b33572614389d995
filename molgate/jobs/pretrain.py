"""``molgate pretrain``: the default GATE trained on every task of the built-in suite.

Builds the curated suite offline from the installed ``chemicals`` tables
(:func:`molgate.data.suite.build_suite`; nothing is downloaded), trains the default many-task GATE
on all of its tasks with the training workflow of ``molgate train``
(:func:`molgate.jobs.train.train`), measures every task on the test split and writes

* the model directory, as ``molgate train`` writes it: ``add-task``, ``predict``, ``evaluate`` and
  ``screen`` take it as it is;
* ``metrics.json`` (test metrics per task in units, as ``molgate evaluate`` writes them);
* ``suite_manifest.json``: the suite build's manifest (versions, options, sources per task);
* ``MODEL_CARD.md``: the tasks with their units and test metrics, the training time and settings,
  and the terms of the data each task was trained on.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from molgate import __version__
from molgate.data.splits import cap_train_per_task, make_split, save_split
from molgate.data.suite import build_suite, resolve_tasks
from molgate.data.suite.tasks import TASKS, resolve_sources
from molgate.data.table import read_table
from molgate.errors import InputError
from molgate.jobs.evaluate import score_test_split
from molgate.jobs.train import train
from molgate.outputs import check_model_out
from molgate.train.checkpoint import read_config

CARD = "MODEL_CARD.md"

#: The terms of each source's data, as the suite documents them (``molgate/data/suite/README.md``).
LICENCES = {
    "CAS Common Chemistry": "CC BY-NC 4.0 (non-commercial use only; build with "
                            "--exclude-source 'CAS Common Chemistry' for commercial use)",
    "CRC": "CRC Handbook of Chemistry and Physics: copyrighted compilation, redistributed by `chemicals`",
    "DIPPR": "DIPPR (Perry's tables): copyrighted compilation, redistributed by `chemicals`",
    "VDI": "VDI Heat Atlas: copyrighted compilation, redistributed by `chemicals`",
    "Yaws": "Yaws' handbooks: copyrighted compilation, redistributed by `chemicals`",
    "Landolt": "Landolt-Börnstein Antoine fits: copyrighted, redistributed by `chemicals`",
    "Wikidata": "CC0",
    "FreeSolv": "MIT (the Chemprop repository's copy); cite Mobley & Guthrie, J. Comput.-Aided Mol. "
                "Des. 28:711-720 (2014)",
    "derived": "computed by molgate from this suite's own values (the terms of those values apply)",
}
OTHER_TERMS = "published data as tabulated in `chemicals` (MIT code); the values keep their source's terms"


@dataclass
class PretrainResult:
    model_dir: Path
    tasks: list[str]
    metrics: dict[str, dict | None]
    seconds: float  # training (the fit), as ``molgate train`` reports it
    total_seconds: float  # suite build, training and evaluation
    card: Path
    split_counts: pd.DataFrame = field(default_factory=pd.DataFrame)


def _suite_matches(folder: Path, tasks: list[str], exclude: list[str]) -> bool:
    manifest = folder / "manifest.json"
    if not (folder / "suite.parquet").is_file() or not manifest.is_file():
        return False
    options = json.loads(manifest.read_text()).get("options", {})
    return options.get("tasks") == tasks and options.get("exclude_sources") == exclude


def _build(tasks: list[str], exclude: list[str], folder: Path, progress: bool) -> dict:
    """The suite in ``folder``: built there, or reused when a build with the same tasks and
    excluded sources is already there (builds are byte-identical for the same options)."""
    if not _suite_matches(folder, tasks, exclude):
        build_suite(tasks, folder, exclude_sources=exclude, progress=progress)
    return json.loads((folder / "manifest.json").read_text())


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def model_card(model_dir: Path, manifest: dict, metrics: dict, counts: pd.DataFrame, seconds: float,
               total_seconds: float, settings: dict) -> str:
    """``MODEL_CARD.md``: what the model knows, how well, what it cost, and the data's terms."""
    config = read_config(model_dir)
    tasks, units = config["tasks"], config.get("units", [""] * len(config["tasks"]))
    gate = config.get("gate", {})
    lines = [f"# molgate suite model: GATE on {len(tasks)} properties", "",
             f"Trained by `molgate pretrain` (molgate {__version__}) on the built-in property suite, built "
             f"offline from `chemicals` {manifest['versions'].get('chemicals', '?')} "
             f"({manifest['n_molecules']} molecules). Default many-task GATE ({gate.get('sharing', 'trunk')} "
             f"sharing, latent {gate.get('latent_size')}, LF frame {gate.get('lf_size')}); "
             f"{settings['split']} split, seed {settings['seed']}"
             + (f", at most {settings['max_per_task']} training labels per task" if settings["max_per_task"]
                else ", every training label") + f"; at most {settings['epochs']} epoch(s).", "",
             "## Use", "", "```bash",
             f"molgate predict  --model {model_dir.name} --data molecules.csv --out predictions.csv",
             f"molgate add-task --model {model_dir.name} --data mine.csv --target my_property --out with_mine",
             f"molgate screen   --model {model_dir.name} --library library.smi --out hits.parquet "
             "--where \"...\"", "```", "",
             "## Tasks and test metrics", "",
             "Test split of the suite (original units; the test molecules are in no task's training set).",
             "", "| task | unit | description | train | val | test | RMSE | MAE | R^2 | Pearson r |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task, unit in zip(tasks, units):
        m = metrics.get(task) or {}
        n = {part: int(counts.loc[task, part]) if task in counts.index else 0 for part in ("train", "val", "test")}
        lines.append(f"| {task} | {unit or '-'} | {TASKS[task].description if task in TASKS else ''} | "
                     f"{n['train']} | {n['val']} | {n['test']} | {_number(m.get('rmse'))} | "
                     f"{_number(m.get('mae'))} | {_number(m.get('r2'))} | {_number(m.get('pearson'))} |")
    fit = next(iter(config.get("fit", {}).values()), {})
    lines += ["", "## Training", "",
              f"- training time: {seconds:.0f} s ({fit.get('epochs_run', '?')} epoch(s) run; the weights are "
              f"those of epoch {fit['best_epoch'] + 1 if 'best_epoch' in fit else '?'}, the best on validation); "
              f"suite build, training and evaluation together: {total_seconds:.0f} s",
              f"- settings: `{json.dumps(config.get('training', {}), sort_keys=True)}`",
              f"- suite options: `{json.dumps(manifest.get('options', {}), sort_keys=True)}`", "",
              "## Data and licences", "",
              "The weights are learnt from the values below; the terms of the data apply to how the model "
              "may be used. `suite_manifest.json` lists the sources every task actually used.", "",
              "| source | terms | tasks |", "|---|---|---|"]
    used: dict[str, list[str]] = {}
    for task in tasks:
        for source in manifest["tasks"].get(task, {}).get("sources", []):
            used.setdefault(source, []).append(task)
    for source in sorted(used):
        lines.append(f"| {source} | {LICENCES.get(source, OTHER_TERMS)} | {', '.join(used[source])} |")
    if "CAS Common Chemistry" in used:
        lines += ["", "**Non-commercial**: the model was trained on CAS Common Chemistry data (CC BY-NC 4.0)."]
    return "\n".join(lines) + "\n"


def pretrain(out: str | Path, tasks: str | Iterable[str] = "all", max_per_task: int | None = None,
             epochs: int = 50, split: str = "scaffold", seed: int = 0, exclude_sources: Iterable[str] = (),
             suite_dir: str | Path | None = None, overwrite: bool = True, progress: bool = True,
             **params) -> PretrainResult:
    """``molgate pretrain``: build the suite (``tasks``: a preset or task names), train the default
    GATE on every task and write the model directory ``out`` with its model card.

    ``max_per_task`` caps the training labels per task (sampled from train; validation and test
    stay whole); None trains on every label. ``suite_dir`` keeps the suite build (and reuses it when
    built with the same tasks and excluded sources); by default it is built in a temporary folder.
    ``params`` go to :func:`molgate.jobs.train.train` (batch_size, patience, accelerator, ...).
    """
    start = time.perf_counter()
    out = check_model_out(Path(out), overwrite)
    try:
        names, exclude = resolve_tasks(tasks), resolve_sources(exclude_sources)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if suite_dir is not None and out.resolve() in (Path(suite_dir).resolve(), *Path(suite_dir).resolve().parents):
        raise InputError("--suite-dir must lie outside --out, which is replaced as a whole", file=str(suite_dir))
    scratch = None if suite_dir is not None else Path(tempfile.mkdtemp(prefix="molgate-suite-"))
    folder = Path(suite_dir) if suite_dir is not None else scratch
    try:
        manifest = _build(names, exclude, folder, progress)
        data = folder / "suite.parquet"
        split_file = None
        if max_per_task:
            table, _ = read_table(data, targets=names)
            capped = cap_train_per_task(table, make_split(table, split, seed), max_per_task, seed)
            split_file = save_split(capped, table, folder / f"{split}_seed{seed}_cap{max_per_task}.json")
        result = train(data, targets=names, method="gate", split=split, seed=seed, out=out,
                       split_file=split_file, overwrite=overwrite, epochs=epochs, progress=progress, **params)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    metrics = score_test_split(out).metrics
    (out / "suite_manifest.json").write_text(json.dumps(manifest, indent=1))
    total = time.perf_counter() - start
    settings = {"split": split, "seed": seed, "max_per_task": max_per_task, "epochs": epochs}
    card = out / CARD
    card.write_text(model_card(out, manifest, metrics, result.split_counts, result.seconds, total, settings))
    return PretrainResult(out, list(result.tasks), metrics, result.seconds, total, card, result.split_counts)


__all__ = ["CARD", "LICENCES", "PretrainResult", "model_card", "pretrain"]
