"""The Python API; every CLI command calls exactly one function here.

>>> from molgate import api
>>> run = api.train("data.csv", targets=["density"], method="mtl", split="scaffold", out="runs/m")
>>> api.evaluate("runs/m")["density"]["rmse"]
>>> api.predict("runs/m", "new.csv", out="pred.csv")
>>> api.build_suite("reference10", "suite/")      # molgate data build
>>> api.summarize_suite("suite/", "overlap.png")  # molgate data summary
>>> api.generate_library(100_000, "lib.parquet")    # molgate library generate

Thin functions over the workflows: :func:`train` (:mod:`molgate.jobs.train`), :func:`add_task`
(:mod:`molgate.jobs.add_task`), :func:`pretrain` (:mod:`molgate.jobs.pretrain`), ``screen``
(:mod:`molgate.screen.run`), ``benchmark`` (:mod:`molgate.benchmark`). :class:`PropertyRegressor` (:mod:`molgate.estimator`) is the estimator
behind ``train`` (scikit-learn style: explicit parameters, ``fit`` / ``predict`` / ``save`` /
``load``); :class:`GateConfig`, :class:`GateLossWeights` and :class:`RatioSettings` are its GATE
parameters.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from molgate.benchmark import BenchmarkConfig, run_benchmark, sweep_gate, write_report
from molgate.benchmark.compare import regime_lines
from molgate.benchmark.report import partial_lines
from molgate.benchmark.plan import expand_methods, jobs
from molgate.benchmark.run import complete_seeds, finished_results, prepare_data, task_names
from molgate.data.run_inputs import prepare_split, units_from_manifest
from molgate.data.splits import make_split, save_split, split_counts
from molgate.data.suite import build_suite, summarize_suite
from molgate.data.table import read_table, write_rejects
from molgate.errors import InputError
from molgate.estimator import PropertyRegressor, gate_views, predict_array
from molgate.evaluate.metrics import metrics_table
from molgate.evaluate.plots import latent_spaces_plot, lf_frame_plot, parity_plot
from molgate.evaluate.training_plots import term_shares_plot
from molgate.jobs.add_task import AddTaskResult, add_task
from molgate.jobs.evaluate import score_test_split
from molgate.jobs.export_chemprop import export_chemprop
from molgate.jobs.pretrain import PretrainResult, pretrain
from molgate.jobs.train import TrainResult, train
from molgate.methods import GateConfig
from molgate.methods.gate_losses import GateLossWeights
from molgate.methods.transfer_ratios import RatioSettings
from molgate.prediction_output import predict_file
from molgate.screen import library as screen_library
from molgate.screen.output import ScreenSummary
from molgate.screen.run import screen as run_screen



def predict(model: str | Path, data: str | Path, out: str | Path | None = None,
            smiles_column: str | None = None, on_invalid: str = "error",
            batch_size: int = 256, id_columns: list[str] | None = None,
            largest_fragment: bool | None = None, domain: bool = True,
            domain_threshold: float = 0.3) -> pd.DataFrame:
    """``molgate predict``: every input row, in input order, with one column per task in units,
    an ensemble's ``_std`` and the domain (see :func:`molgate.prediction_output.predict_file`)."""
    return predict_file(PropertyRegressor.load, model, data, out, smiles_column, on_invalid, batch_size,
                        id_columns, largest_fragment, domain, domain_threshold)


def evaluate(model: str | Path, plots: bool = True) -> dict[str, dict | None]:
    """``molgate evaluate``: test-split metrics per task in units -> ``DIR/metrics.json``, plots
    (a task without test labels: ``null``, see :func:`~molgate.evaluate.metrics.evaluation_metrics`)."""
    model_dir = Path(model)
    metrics, y_true, y_pred, graphs, est, config = score_test_split(model_dir)
    if plots:
        units = dict(zip(est.tasks_, config.get("units", [])))
        for k, t in enumerate(est.tasks_):
            if metrics[t] is not None:
                parity_plot(y_true[:, k], y_pred[:, k], t, units.get(t, ""),
                            model_dir / "parity" / f"{t}.png", metrics[t])
        if config["method"] in ("gate", "gate-pair", "gate-extended"):
            z, u = gate_views(est.model_, graphs)
            lf_frame_plot(u, est.tasks_, model_dir / "lf_frame.png")
            latent_spaces_plot(z, y_true, est.tasks_, model_dir / "latent_spaces.png")
        if (model_dir / "logs" / "metrics.csv").exists():
            term_shares_plot(model_dir / "logs" / "metrics.csv", model_dir / "loss_terms.png")
    return metrics


def make_splits(data: str | Path, out_dir: str | Path, targets: list[str] | None = None,
                smiles_column: str = "smiles", kinds=("random", "scaffold"), seeds=(0, 1, 2, 3, 4),
                sizes=(0.8, 0.1, 0.1), on_invalid: str = "error") -> list[Path]:
    """``molgate split``: save split files (one per kind and seed) with per-task counts."""
    table, rejects = read_table(data, smiles_column, targets, on_invalid=on_invalid)
    out_dir = Path(out_dir)
    write_rejects(rejects, out_dir / "data")
    paths = []
    for kind in kinds:
        for seed in seeds:
            split = make_split(table, kind, seed, sizes)
            path = save_split(split, table, out_dir / f"{kind}_seed{seed}.json")
            split_counts(table, split).to_csv(out_dir / f"{kind}_seed{seed}_counts.csv")
            paths.append(path)
    return paths



def benchmark(tasks=None, splits=("scaffold",), seeds=None,
              methods=("stl", "mtl", "gate", "chemprop"), out: str | Path = "runs/benchmark",
              quick: bool = False, full: bool = False, max_per_task: int | None = None,
              epochs: int | None = None, sweep: bool = False, data: str | None = None,
              progress: bool = True, report_only: bool = False, compare_with: str | Path | None = None,
              partial_methods=(), aggregation: str | None = None) -> Path:
    """``molgate benchmark``: run (resumably) and write ``OUT/report.md`` and ``OUT/results.json``.

    ``tasks`` (default ``"reference10"``) and ``seeds`` (default 0-4). ``quick``: 2 small tasks,
    seed 0, 3 epochs, small networks (CI-sized), unless ``tasks`` or ``seeds`` say otherwise.
    ``full``: no cap on training molecules, 50 epochs (for a GPU). ``sweep``: choose GATE's beta, delta and
    perturbation scale on validation data first. ``report_only``: train nothing; report the
    finished runs of ``OUT``, restricted to the seeds where every one of ``methods`` finished.
    The report lists the planned runs it leaves out. ``compare_with``: another benchmark folder
    (e.g. the capped regime beside ``--full``); GATE's edge in both is set side by side.
    ``partial_methods``: methods still short of seeds (e.g. Chemprop on a long run), each reported
    against GATE on the seeds it finished, outside the main tables; never trained here.
    ``aggregation``: atoms -> molecule in every D-MPNN (default ``mean``; Chemprop's own is ``norm``;
    ``mean+norm``, ours, needs the Chemprop methods left out).
    """
    config = BenchmarkConfig.from_options(tasks, splits, seeds, methods, quick, full, max_per_task, epochs, data,
                                          aggregation)
    partial_methods = [m for m in expand_methods(partial_methods) if m not in config.methods]
    out = Path(out)
    if compare_with is not None and not (Path(compare_with) / "results.json").exists():
        raise InputError("is not a benchmark folder with a report (results.json is missing)",
                         file=str(compare_with))
    if report_only:
        if not (out / "benchmark.json").exists():
            raise InputError("no benchmark to report on (benchmark.json is missing)", file=str(out))
        config.save_or_check(out)
        results = complete_seeds(finished_results(config, out), config.methods)
        if not results:
            raise InputError(f"no seed has finished runs of every method of {', '.join(config.methods)}",
                             file=str(out))
    else:
        if sweep:
            config.gate, _ = sweep_gate(config, out)
        results = run_benchmark(config, out, progress=progress)
    data_file = prepare_data(config, out)
    names = task_names(config)
    reported = {(r["split"], r["seed"], r["method"]) for r in results}
    left_out = [(j, j.done(out)) for j in jobs(config) if (j.split, j.seed, j.method) not in reported]
    report = write_report(out, results, json.loads((out / "benchmark.json").read_text()),
                          dict(zip(names, units_from_manifest(data_file, names))), left_out=left_out)
    if partial_methods:
        partial = finished_results(replace(config, methods=tuple(partial_methods)), out)
        report.write_text(report.read_text() + "\n".join(partial_lines(results, partial)) + "\n")
    if compare_with is not None:
        report.write_text(report.read_text() + "\n".join(regime_lines(out, compare_with, out)) + "\n")
    return report


def generate_library(size: int, out: str | Path, seed: int = 0, progress: bool = True) -> Path:
    """``molgate library generate``: a synthetic screening library of ``size`` unique molecules.

    Written as .smi/.txt or .csv (optionally .gz) or .parquet, chosen by ``out``'s name; the
    same seed gives the same file.
    """
    return screen_library.generate_library(size, out, seed, progress)


def screen(model: str | Path, library: list[str | Path], out: str | Path, where: str | None = None,
           ensemble: list[str | Path] | None = None, engine: str = "local", workers: int | None = None,
           smiles_column: str = "smiles", chunk_size: int = 10_000, batch_size: int = 1024,
           domain: bool = True, domain_threshold: float = 0.3, progress: bool = True,
           precision: str = "fp32", largest_fragment: bool | None = None) -> ScreenSummary:
    """``molgate screen``: predict every task for a (huge) library, keep the hits, resumably.

    Writes ``out`` (Parquet: SMILES, library file index and row, every property in units, the
    ensemble std, the nearest-training-neighbour similarity) and ``OUT.rejects.csv``; returns a
    :class:`~molgate.screen.output.ScreenSummary`. See :mod:`molgate.screen.run`.
    """
    return run_screen(model, library, out, where, ensemble, workers, smiles_column, chunk_size,
                      batch_size, domain, domain_threshold, progress, engine, precision=precision,
                      largest_fragment=largest_fragment)


__all__ = ["PropertyRegressor", "GateConfig", "GateLossWeights", "RatioSettings", "screen", "ScreenSummary",
           "generate_library", "add_task", "AddTaskResult", "benchmark", "TrainResult", "train", "predict",
           "evaluate", "make_splits", "build_suite", "summarize_suite", "metrics_table", "predict_array",
           "gate_views", "prepare_split", "units_from_manifest", "pretrain", "PretrainResult",
           "export_chemprop"]
