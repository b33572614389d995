"""Training logs its loss parts once per epoch (and the step loss only on the steps Lightning
writes): ``logs/metrics.csv`` holds the same columns and values as logging every step did."""

import numpy as np
import pandas as pd
import pytest
import torch

from molgate.featurize.batching import GraphDataset
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GateConfig, build_model
from molgate.train import fit as fit_module
from molgate.train.fit import fit_model
from molgate.train.module import EpochMeans, RegressionModule, TrainSettings


class EveryStepLogging(RegressionModule):
    """The logging this module replaced: ``self.log`` on every training step."""

    def training_step(self, batch, batch_idx):
        loss, parts = self.model.training_loss(batch)
        n = len(batch.bmg)
        self.log("train_loss", loss, batch_size=n, prog_bar=True, on_step=True, on_epoch=True)
        if len(parts) > 1:
            self.log_dict({f"train_{k}": v for k, v in parts.items() if k != "total"},
                          batch_size=n, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self):
        pass


def test_epoch_means_weight_each_batch_by_its_size():
    means = EpochMeans()
    means.add({"reg": torch.tensor(1.0), "total": torch.tensor(2.0)}, 3)
    means.add({"reg": torch.tensor(5.0), "total": torch.tensor(4.0)}, 1)
    out = means.means()
    assert float(out["reg"]) == pytest.approx((3 * 1 + 5) / 4)
    assert float(out["total"]) == pytest.approx((3 * 2 + 4) / 4)
    assert EpochMeans().means() == {}


def _data(frame, rows):
    y = frame[["freesolv", "doubled"]].to_numpy()[rows]
    y = (y - np.nanmean(y, 0)) / np.nanstd(y, 0)
    return GraphDataset(featurize(frame["smiles"].iloc[rows].tolist(), progress=False), y)


def _metrics(tmp_path, name, method, train, val, module_class, monkeypatch):
    monkeypatch.setattr(fit_module, "RegressionModule", module_class)
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    extra = {"gate": GateConfig(latent_size=8, lf_size=8).to_dict()} if method == "gate" else {}
    model = build_model(method, 2, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16), extra)
    settings = TrainSettings(epochs=2, batch_size=16, patience=5, progress=False)
    fit_model(model, train, val, tmp_path / name, settings)
    return pd.read_csv(tmp_path / name / "logs" / "metrics.csv")


@pytest.mark.parametrize("method", ["mtl", "gate"])
def test_metrics_csv_is_the_same_as_with_logging_on_every_step(tmp_path, two_task_frame, monkeypatch, method):
    train, val = _data(two_task_frame, np.arange(0, 96)), _data(two_task_frame, np.arange(96, 120))
    old = _metrics(tmp_path, "old", method, train, val, EveryStepLogging, monkeypatch)
    new = _metrics(tmp_path, "new", method, train, val, RegressionModule, monkeypatch)
    train_columns = {c for c in old.columns if c.startswith("train_")}
    assert {"train_loss_step", "train_loss_epoch", "train_reg"} <= train_columns
    assert {c for c in new.columns if c.startswith("train_")} == train_columns
    for column in sorted(train_columns) + ["val_loss"]:
        a = old.dropna(subset=[column]).set_index("step")[column]
        b = new.dropna(subset=[column]).set_index("step")[column]
        assert len(a) > 0 and list(a.index) == list(b.index), column
        np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-5, err_msg=column)
