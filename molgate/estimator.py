"""The estimator behind ``molgate train``: one class for every method, scikit-learn style.

:class:`PropertyRegressor` takes explicit parameters (the encoder, the training schedule, GATE's
settings and its transfer ratios), and ``fit`` / ``predict`` / ``save`` / ``load``. ``fit`` trains
on the split's training part and early-stops on its validation part (the test part is never
read); the target scaler lives in the model, so ``predict`` answers in the labels' units. STL fits
one member per task on that task's labels; every other method fits one model on all tasks.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from molgate.data.splits import Split
from molgate.data.table import MoleculeTable
from molgate.evaluate.plots import ratio_heatmap
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.methods import MODELS, EncoderConfig, GATEModel, GateConfig, PropertyModel, build_model
from molgate.methods.gate import set_transfer_ratios
from molgate.methods.ratio_io import ratio_matrix, ratio_table, save_ratios
from molgate.methods.regression import default_reduction
from molgate.methods.transfer_ratios import RatioSettings, TransferRatioLearner, split_validation
from molgate.train.checkpoint import load_model, save_model
from molgate.train.fit import FitResult, fit_model
from molgate.train.module import TrainSettings
from molgate.train.ratio_callback import LearnedRatios


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
            matrix = self.model_.transfer_ratios.cpu().numpy()
            save_ratios(matrix, self.tasks_, out, self.ratio_history_)
            ratio_heatmap(matrix, self.tasks_, out / "transfer_ratios.png")
        return out

    @classmethod
    def load(cls, model_dir: str | Path) -> "PropertyRegressor":
        """The saved model with the settings it was trained with (GATE's transfer-ratio mode and
        settings too, so a refit learns or fixes the ratios as the first fit did)."""
        model, config = load_model(model_dir)
        gate = GateConfig(**config["gate"]) if "gate" in config else None
        saved = config.get("transfer_ratios", {}) if isinstance(model, GATEModel) else {}  # not add-task's
        mode = saved.get("mode", "uniform")
        tasks = list(config["tasks"])
        ratios = ratio_table(model.transfer_ratios.cpu().numpy(), tasks) if mode == "fixed" else None
        known = {f.name for f in fields(RatioSettings)}
        settings = RatioSettings(**{k: v for k, v in saved.get("settings", {}).items() if k in known})
        est = cls(method=config["method"], **config["model"],
                  atom_featurizer=config["featurizer"]["atom_featurizer"], progress=False, gate=gate,
                  reduction=config.get("training", {}).get("reduction"), transfer_ratios=mode,
                  ratios=ratios, ratio_settings=settings)
        est.model_, est.tasks_ = model, list(config["tasks"])
        return est


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
