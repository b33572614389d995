"""Train a few steps on tiny data with each method; reload; predict; evaluate."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from molgate import api
from molgate.data.splits import load_split
from molgate.data.table import read_table
from molgate.errors import InputError
from molgate.train.checkpoint import load_model
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def trained(tmp_path_factory, two_task_csv):
    root, data = tmp_path_factory.mktemp("runs"), two_task_csv
    runs = {m: api.train(data, method=m, split="scaffold", seed=0, out=root / m, **SMALL)
            for m in ("stl", "mtl")}
    return data, runs


@pytest.mark.parametrize("method", ["stl", "mtl"])
def test_model_directory_is_self_describing(trained, method):
    data, runs = trained
    d = runs[method].model_dir
    config = json.loads((d / "config.json").read_text())
    assert config["method"] == method and config["tasks"] == ["freesolv", "doubled"]
    assert config["featurizer"] == {"atom_featurizer": "v2", "add_hydrogens": False}
    assert (d / "split.json").exists() and (d / "test_set.csv").exists()
    assert (d / "checkpoints").is_dir()
    state = torch.load(d / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


@pytest.mark.parametrize("method", ["stl", "mtl"])
def test_reloaded_model_predicts_identical_numbers(trained, method, tmp_path):
    data, runs = trained
    first = api.predict(runs[method].model_dir, data)
    est = api.PropertyRegressor.load(runs[method].model_dir)
    from molgate.data.table import canonicalize

    second = est.predict([canonicalize(s) for s in first["smiles"]])
    np.testing.assert_array_equal(first[["freesolv", "doubled"]].to_numpy(), second)


def test_predictions_are_in_original_units(trained):
    data, runs = trained
    pred = api.predict(runs["mtl"].model_dir, data)
    labels = pd.read_csv(data)
    # standardised outputs would sit near 0; the labels' mean is far from it
    assert abs(pred["doubled"].mean() - labels["doubled"].mean()) < 3 * labels["doubled"].std()
    assert abs(pred["doubled"].mean()) > 1.0


def test_same_seed_same_numbers(trained, tmp_path):
    data, runs = trained
    again = api.train(data, method="mtl", split="scaffold", seed=0, out=tmp_path / "again", **SMALL)
    a = api.predict(runs["mtl"].model_dir, data)
    b = api.predict(again.model_dir, data)
    np.testing.assert_array_equal(a[["freesolv", "doubled"]].to_numpy(), b[["freesolv", "doubled"]].to_numpy())


def test_stl_members_are_independent(trained):
    model, _ = load_model(trained[1]["stl"].model_dir)
    a, b = model.members
    assert not torch.equal(a.encoder.message_passing.W_i.weight, b.encoder.message_passing.W_i.weight)
    assert model.scaler.mean.shape == (2,)


def test_evaluate_writes_metrics_and_parity_plots(trained):
    d = trained[1]["mtl"].model_dir
    metrics = api.evaluate(d)
    saved = json.loads((d / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    test = pd.read_csv(d / "test_set.csv")
    assert saved["freesolv"]["n"] == test["freesolv"].notna().sum()
    assert set(saved["doubled"]) == {"n", "rmse", "mae", "r2", "pearson"}
    assert (d / "parity" / "freesolv.png").stat().st_size > 1000


def test_test_molecules_are_not_in_training(trained):
    data, runs = trained
    table, _ = read_table(data)
    split = load_split(runs["mtl"].model_dir / "split.json", table)
    test = set(pd.read_csv(runs["mtl"].model_dir / "test_set.csv")["smiles"])
    assert test == {table.smiles[i] for i in split.test}
    assert not test & {table.smiles[i] for i in split.train}


def test_reusing_a_split_file_gives_the_same_split(trained, tmp_path):
    data, runs = trained
    r = api.train(data, targets=["freesolv"], method="mtl", split_file=runs["stl"].model_dir / "split.json",
                  out=tmp_path / "reuse", **SMALL)
    assert json.loads((r.model_dir / "split.json").read_text())["test"] == \
        json.loads((runs["stl"].model_dir / "split.json").read_text())["test"]


def test_overfits_a_tiny_set(tmp_path, two_task_frame):
    data = tmp_path / "tiny.csv"
    two_task_frame.iloc[:40][["smiles", "freesolv"]].to_csv(data, index=False)
    r = api.train(data, method="mtl", split="random", out=tmp_path / "o", hidden_size=64,
                  ffn_hidden_size=64, epochs=60, batch_size=8, patience=60, max_lr=3e-3,
                  progress=False)
    assert len(r.fit["all"]["val_history"]) == 60
    log = pd.read_csv(tmp_path / "o" / "logs" / "metrics.csv").dropna(subset=["train_loss_epoch"])
    first, last = log["train_loss_epoch"].iloc[0], log["train_loss_epoch"].iloc[-1]
    assert last < 0.1 * first  # standardised MSE falls from ~1 to a small fraction


def test_a_task_without_validation_labels_is_a_clear_error(tmp_path):
    data = tmp_path / "few.csv"
    data.write_text("smiles,a,b\n" + "".join(f"{'C' * (i + 1)}O,{i},{'1' if i == 0 else ''}\n"
                                              for i in range(20)))
    with pytest.raises(InputError, match="column 'b': task has no labelled molecule in the"):
        api.train(data, method="mtl", split="random", out=tmp_path / "m", **SMALL)
