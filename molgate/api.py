"""The Python API; every CLI command calls exactly one function here.

>>> from molgate import api
>>> run = api.train("data.csv", targets=["density"], method="mtl", split="scaffold", out="runs/m")
>>> api.evaluate("runs/m")["density"]["rmse"]
>>> api.predict("runs/m", "new.csv", out="pred.csv")
>>> api.build_suite("reference10", "suite/")      # molgate data build
>>> api.summarize_suite("suite/", "overlap.png")  # molgate data summary
>>> api.generate_library(100_000, "lib.parquet")    # molgate library generate

:class:`PropertyRegressor` is the estimator behind ``train`` (scikit-learn style: explicit
parameters, ``fit`` / ``predict`` / ``save`` / ``load``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molgate.data.suite import build_suite, summarize_suite
from molgate.data.run_inputs import prepare_split, split_and_record, units_from_manifest
from molgate.data.splits import Split, make_split, save_split, split_counts
from molgate.data.table import MoleculeTable, read_table, rejects_path, write_rejects
from molgate.errors import InputError
from molgate.evaluate.metrics import evaluation_metrics, metrics_table, read_test_set
from molgate.outputs import check_model_out, staged_model_dir
from molgate.ensemble import fit_members
from molgate.prediction_output import predict_file
from molgate.evaluate.plots import latent_spaces_plot, lf_frame_plot, parity_plot, ratio_heatmap
from molgate.evaluate.training_plots import term_shares_plot
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.jobs.add_task import AddTaskResult, add_task
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.methods import MODELS, EncoderConfig, GATEModel, GateConfig, PropertyModel, build_model
from molgate.methods.gate import set_transfer_ratios
from molgate.methods.regression import default_reduction
from molgate.methods.transfer_ratios import RatioSettings, TransferRatioLearner, split_validation
from molgate.screen import library as screen_library
from molgate.train.ratio_callback import LearnedRatios
from molgate.train.checkpoint import load_model, read_config, save_model
from molgate.train.fit import FitResult, fit_model
from molgate.train.module import TrainSettings

logger = logging.getLogger("molgate")


class PropertyRegressor:
    """Estimator for every method: ``stl``, ``mtl``, ``gate`` and ``gate-pair``.

    ``gate`` holds GATE's own settings (sharing mode, latent sizes, loss weights, perturbations);
    it is ignored by the baselines.
    """

    def __init__(self, method: str = "mtl", hidden_size: int = 300, depth: int = 3,
                 dropout: float = 0.0, aggregation: str = "mean", ffn_hidden_size: int = 300,
                 ffn_layers: int = 1, epochs: int = 50, batch_size: int = 64, patience: int = 10,
                 warmup_epochs: int = 2, init_lr: float = 1e-4, max_lr: float = 1e-3,
                 final_lr: float = 1e-4, seed: int = 0, atom_featurizer: str = "v2",
                 accelerator: str = "cpu", cache: bool = True, cache_dir: str | None = None,
                 progress: bool = True, gate: GateConfig | None = None, devices: int = 1,
                 num_nodes: int = 1,
                 transfer_ratios: str = "uniform", ratios: dict | None = None,
                 ratio_settings: RatioSettings | None = None, reduction: str | None = None):
        if method not in MODELS:
            raise ValueError(f"method must be one of {sorted(MODELS)}, got {method!r}")
        self.method = method
        self.encoder_config = EncoderConfig(hidden_size, depth, dropout, aggregation,
                                            ffn_hidden_size, ffn_layers)
        self.train_settings = TrainSettings(epochs, batch_size, patience, warmup_epochs, init_lr,
                                            max_lr, final_lr, seed, accelerator, devices, progress,
                                            num_nodes, reduction or default_reduction(method))
        self.featurizer = FeaturizerSettings(atom_featurizer)
        self.gate_config = gate or GateConfig()
        if transfer_ratios not in ("uniform", "learned", "fixed"):
            raise ValueError("transfer_ratios must be uniform, learned or fixed (grid: api.train)")
        if transfer_ratios == "fixed" and ratios is None:
            raise ValueError("transfer_ratios='fixed' needs ratios {source: {target: value}}")
        self.transfer_ratios, self.ratios = transfer_ratios, ratios
        self.ratio_settings = ratio_settings or RatioSettings()
        self.ratio_history_: list = []
        self.cache, self.cache_dir = cache, cache_dir
        self.model_: PropertyModel | None = None
        self.tasks_: list[str] = []
        self.fit_results_: dict[str, FitResult] = {}

    def _graphs(self, smiles: list[str], progress: bool = True):
        return featurize(smiles, self.featurizer, cache=self.cache, cache_dir=self.cache_dir,
                         progress=progress and self.train_settings.progress)

    def fit(self, table: MoleculeTable, split: Split, work_dir: str | Path) -> "PropertyRegressor":
        """Train on ``split.train``, early-stop on ``split.val``; ``split.test`` is never read."""
        torch.manual_seed(self.train_settings.seed)
        d_v, d_e = feature_dims(self.featurizer)
        self.tasks_ = list(table.tasks)
        used = np.union1d(split.train, split.val)  # molecules left out by a cap are not featurised
        graphs = dict(zip(used.tolist(), self._graphs([table.smiles[i] for i in used])))
        model = build_model(self.method, len(table.tasks), d_v, d_e, self.encoder_config,
                            {"gate": self.gate_config.to_dict()})
        mask = table.mask
        if self.method == "stl":
            for k, (task, member) in enumerate(zip(table.tasks, model.members)):
                tr = split.train[mask[split.train, k]]
                va = split.val[mask[split.val, k]]
                self.fit_results_[task] = self._fit_one(member, graphs, table.y[:, [k]], tr, va,
                                                        work_dir, f"logs-{task}")
            model.sync_scaler()
        else:
            learner = None
            if self.transfer_ratios == "fixed":
                set_transfer_ratios(model, ratio_matrix(self.ratios, table.tasks))
            elif self.transfer_ratios == "learned":
                if self.train_settings.distributed:
                    raise ValueError("learned transfer ratios run in one process; train without --devices")
                learner = TransferRatioLearner(model, self.ratio_settings)
            self.fit_results_["all"] = self._fit_one(model, graphs, table.y, split.train,
                                                     split.val, work_dir, "logs", learner)
            self.ratio_history_ = learner.history if learner else []
        self.model_ = model
        return self

    def _fit_one(self, model, graphs, y, train_idx, val_idx, work_dir, name, learner=None) -> FitResult:
        """Fit one model; with a ratio learner, one part of the validation split drives lambda and
        the other early-stops and selects the checkpoint (they share no molecule)."""
        model.scaler.fit(y[train_idx])
        with torch.no_grad():
            y_std = model.scaler.transform(torch.as_tensor(y, dtype=torch.float32)).numpy()
        train = GraphDataset([graphs[i] for i in train_idx], y_std[train_idx])
        callbacks = None
        if learner:
            ratio_idx, val_idx = split_validation(val_idx, self.ratio_settings.val_fraction,
                                                  self.train_settings.seed)
            ratio_val = GraphDataset([graphs[i] for i in ratio_idx], y_std[ratio_idx])
            callbacks = [LearnedRatios(learner, ratio_val, self.train_settings.batch_size,
                                       self.train_settings.seed)]
        val = GraphDataset([graphs[i] for i in val_idx], y_std[val_idx])
        return fit_model(model, train, val, work_dir, self.train_settings, name=name, callbacks=callbacks)

    def predict(self, smiles: list[str], batch_size: int = 256) -> np.ndarray:
        """``[n, K]`` predictions in original units for canonical SMILES."""
        if self.model_ is None:
            raise RuntimeError("call fit() or load() first")
        return predict_array(self.model_, self._graphs(smiles, progress=False), batch_size)

    def save(self, out_dir: str | Path, units: list[str] | None = None, extra: dict | None = None) -> Path:
        info = {"training": self.train_settings.to_dict(),
                "fit": {k: asdict(v) for k, v in self.fit_results_.items()}, **(extra or {})}
        if isinstance(self.model_, GATEModel):
            info["transfer_ratios"] = {"mode": self.transfer_ratios,
                                       "settings": self.ratio_settings.to_dict()}
        out = save_model(self.model_, out_dir, self.tasks_, units or [""] * len(self.tasks_),
                         self.featurizer, info)
        if isinstance(self.model_, GATEModel):
            save_ratios(self.model_.transfer_ratios.cpu().numpy(), self.tasks_, out,
                        self.ratio_history_)
        return out

    @classmethod
    def load(cls, model_dir: str | Path) -> "PropertyRegressor":
        model, config = load_model(model_dir)
        gate = GateConfig(**config["gate"]) if "gate" in config else None
        est = cls(method=config["method"], **config["model"],
                  atom_featurizer=config["featurizer"]["atom_featurizer"], progress=False, gate=gate,
                  reduction=config.get("training", {}).get("reduction"))
        est.model_, est.tasks_ = model, list(config["tasks"])
        return est


def ratio_matrix(ratios: dict, tasks: list[str]) -> np.ndarray:
    """``{source: {target: value}}`` -> ``[K, K]``; pairs not given keep the default 1."""
    matrix = np.ones((len(tasks), len(tasks)))
    for source, targets in ratios.items():
        for target, value in targets.items():
            for name in (source, target):
                if name not in tasks:
                    raise InputError(f"transfer ratio names unknown task '{name}' (tasks: {tasks})")
            matrix[tasks.index(source), tasks.index(target)] = float(value)
    np.fill_diagonal(matrix, 0.0)
    return matrix


def save_ratios(matrix: np.ndarray, tasks: list[str], out: Path, history: list | None = None) -> None:
    """``transfer_ratios.json`` (source -> target -> value), its heatmap, and the trajectory."""
    table = {a: {t: float(matrix[i, j]) for j, t in enumerate(tasks) if i != j} for i, a in enumerate(tasks)}
    (out / "transfer_ratios.json").write_text(json.dumps(table, indent=1))
    ratio_heatmap(matrix, tasks, out / "transfer_ratios.png")
    if history:
        (out / "transfer_ratios_history.json").write_text(json.dumps({"tasks": tasks, "steps": history}))


def gate_views(model, graphs, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A GATE model's task latents ``z [K, N, d_z]`` and LF points ``u [K, N, d_lf]``."""
    model = model.eval()
    zs, us = [], []
    with torch.no_grad():
        for batch in make_loader(GraphDataset(graphs), batch_size):
            z, u = model.lf_points(batch.bmg)
            zs.append(z.numpy())
            us.append(u.numpy())
    return np.concatenate(zs, axis=1), np.concatenate(us, axis=1)


def predict_array(model: PropertyModel, graphs, batch_size: int = 256) -> np.ndarray:
    """Predictions in units for a list of graphs, on the GPU when there is one."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    out = []
    for batch in make_loader(GraphDataset(graphs), batch_size):
        batch.bmg.to(device)
        out.append(model.predict_units(batch.bmg).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.n_tasks))


# ---------------------------------------------------------------- functions that mirror the CLI


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
        try:
            params["ratios"] = json.loads(Path(ratios_file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read transfer ratios: {exc}", file=str(ratios_file)) from None
    if transfer_ratios != "uniform" and method != "gate":
        raise InputError(f"--transfer-ratios {transfer_ratios} applies to --method gate, not {method}"
                         + (" (gate-pair transfers from the source to the target only)"
                            if method == "gate-pair" else ""))
    params["transfer_ratios"] = transfer_ratios
    from molgate.train.fit import is_global_zero

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
    """Train GATE at every symmetric grid point of the transfer ratios; keep the best by validation."""
    import itertools
    import shutil

    table, _ = read_table(data, smiles_column, targets, long_format=long_format, on_invalid=on_invalid)
    tasks = table.tasks
    if not 2 <= len(tasks) <= 4 or method != "gate":
        raise InputError("--transfer-ratios grid is for GATE with 2 to 4 tasks "
                         f"({len(tasks)} given: {tasks})")
    pairs = list(itertools.combinations(tasks, 2))
    rows = []
    for i, values in enumerate(itertools.product(grid_values, repeat=len(pairs))):
        ratios: dict = {}
        for (a, t), v in zip(pairs, values):
            ratios.setdefault(a, {})[t] = v
            ratios.setdefault(t, {})[a] = v
        folder = out / "grid" / f"point{i:03d}"
        ratio_path = folder.parent / f"point{i:03d}.ratios.json"
        done_path = folder.parent / f"point{i:03d}.result.json"
        row = {"point": i, **{f"{a}<->{t}": v for (a, t), v in zip(pairs, values)}}
        done = json.loads(done_path.read_text()) if done_path.exists() else {}
        if done.get("ratios") == ratios:
            rows.append(done["row"])  # resumed: this point already ran
            continue
        folder.parent.mkdir(parents=True, exist_ok=True)
        ratio_path.write_text(json.dumps(ratios))
        r = train(data, tasks, smiles_column, method, split, seed, folder, split_file, split_sizes,
                  on_invalid, long_format, "fixed", ratio_path, **params)
        row.update(val_loss=r.fit["all"]["best_val_loss"], seconds=r.seconds)
        rows.append(row)
        done_path.write_text(json.dumps({"ratios": ratios, "row": row}))
    grid = pd.DataFrame(rows)
    best = int(grid.loc[grid["val_loss"].idxmin(), "point"])
    out.mkdir(parents=True, exist_ok=True)
    for item in (out / "grid" / f"point{best:03d}").iterdir():
        target = out / item.name
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, target, **(
            {"dirs_exist_ok": True} if item.is_dir() else {}))
    grid.to_csv(out / "grid_results.csv", index=False)
    (out / "grid_results.json").write_text(json.dumps({
        "best_point": best, "total_seconds": float(grid["seconds"].sum()), "points": rows}, indent=1))
    config = json.loads((out / "config.json").read_text())
    counts = pd.read_csv(out / "split_counts.csv", index_col=0)
    rejects = rejects_path(out) if rejects_path(out).exists() else None
    return TrainResult(out, list(config["tasks"]), counts, rejects, float(grid["seconds"].sum()),
                       float(config.get("throughput", {}).get("molecules_per_second", 0.0)),
                       {"grid": rows, "best": best, **config["fit"]})


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
    est = PropertyRegressor.load(model_dir)
    config = read_config(model_dir)
    column = config.get("data", {}).get("smiles_column", "smiles")
    test_file, test = read_test_set(model_dir, [column, *est.tasks_])
    y_true = test[est.tasks_].to_numpy(dtype=np.float64)
    graphs = est._graphs(test[column].tolist(), progress=False)  # once, for predictions and plots
    y_pred = predict_array(est.model_, graphs)
    metrics = evaluation_metrics(y_true, y_pred, est.tasks_, str(test_file))
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False))
    pd.DataFrame(y_pred, columns=est.tasks_).assign(**{column: test[column]}).to_csv(
        model_dir / "test_predictions.csv", index=False)
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



def benchmark(tasks="reference10", splits=("scaffold",), seeds=(0, 1, 2, 3, 4),
              methods=("stl", "mtl", "gate", "chemprop"), out: str | Path = "runs/benchmark",
              quick: bool = False, full: bool = False, max_per_task: int | None = None,
              epochs: int | None = None, sweep: bool = False, data: str | None = None,
              progress: bool = True) -> Path:
    """``molgate benchmark``: run (resumably) and write ``OUT/report.md`` and ``OUT/results.json``.

    ``quick``: 2 small tasks, 1 seed, 3 epochs, small networks (CI-sized). ``full``: no cap on
    training molecules, 50 epochs (for a GPU). ``sweep``: choose GATE's beta, delta and
    perturbation scale on validation data first.
    """
    from molgate.benchmark import BenchmarkConfig, run_benchmark, sweep_gate, write_report

    if quick and full:
        raise ValueError("--quick and --full exclude each other")
    common = dict(splits=tuple(splits), methods=tuple(methods), data=data)
    if quick:
        config = BenchmarkConfig.quick(**common, max_per_task=max_per_task, epochs=epochs)
    else:
        config = BenchmarkConfig(tasks=tasks, seeds=tuple(seeds), **common)
        if full:
            config.max_per_task, config.epochs, config.patience = None, 50, 10
        if max_per_task is not None:
            config.max_per_task = max_per_task
        if epochs is not None:
            config.epochs = epochs
    out = Path(out)
    if sweep:
        config.gate, _ = sweep_gate(config, out)
    results = run_benchmark(config, out, progress=progress)
    from molgate.benchmark.run import prepare_data, task_names

    data_file = prepare_data(config, out)
    names = task_names(config)
    return write_report(out, results, json.loads((out / "benchmark.json").read_text()),
                        dict(zip(names, units_from_manifest(data_file, names))))


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
           precision: str = "fp32", largest_fragment: bool | None = None):
    """``molgate screen``: predict every task for a (huge) library, keep the hits, resumably.

    Writes ``out`` (Parquet: SMILES, library file index and row, every property in units, the
    ensemble std, the nearest-training-neighbour similarity) and ``OUT.rejects.csv``; returns a
    :class:`molgate.screen.run.ScreenSummary`. See :mod:`molgate.screen.run`.
    """
    from molgate.screen.run import screen as run_screen

    return run_screen(model, library, out, where, ensemble, workers, smiles_column, chunk_size,
                      batch_size, domain, domain_threshold, progress, engine, precision=precision,
                      largest_fragment=largest_fragment)


__all__ = ["PropertyRegressor", "screen", "generate_library", "add_task", "AddTaskResult", "benchmark", "TrainResult", "train", "predict", "evaluate", "make_splits",
           "build_suite", "summarize_suite", "metrics_table", "predict_array", "gate_views",
           "prepare_split", "units_from_manifest"]
