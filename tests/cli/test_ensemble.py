"""``train --ensemble-size``: N seeds in one folder; predict and screen give the mean and
``<task>_std``; predict adds the applicability domain as the screen does."""

import json

import numpy as np
import pandas as pd
import pytest

from molgate import api
from molgate.cli.main import main

SMALL = ["--hidden-size", "16", "--ffn-hidden-size", "16", "--epochs", "2", "--batch-size", "32",
         "--no-progress", "--split", "random", "--targets", "freesolv", "doubled"]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, two_task_csv):
    out = tmp_path_factory.mktemp("ensemble") / "m"
    assert main(["train", "--data", str(two_task_csv), "--out", str(out), "--ensemble-size", "3", *SMALL]) == 0
    return out


def test_members_are_whole_model_folders_on_the_same_split(ensemble):
    config = json.loads((ensemble / "config.json").read_text())
    assert config["ensemble"] == ["members/1", "members/2"]
    for k in (1, 2):
        member = json.loads((ensemble / "members" / str(k) / "config.json").read_text())
        assert member["training"]["seed"] == k and member["tasks"] == config["tasks"]
    assert (ensemble / "split.json").exists() and not (ensemble / "members" / "1" / "split.json").exists()


def test_predict_reports_mean_std_and_domain(ensemble, two_task_csv, tmp_path):
    data = tmp_path / "new.csv"
    pd.DataFrame({"smiles": ["CCO", "C1CC", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"]}).to_csv(data, index=False)
    frame = api.predict(ensemble, data, on_invalid="skip")
    assert list(frame.columns) == ["smiles", "freesolv", "freesolv_std", "doubled", "doubled_std",
                                   "nn_similarity", "in_domain", "reason"]
    valid = ["CCO", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"]  # the folder alone is member 0 to the estimator
    stack = np.stack([api.PropertyRegressor.load(d).predict(valid)[:, 0]
                      for d in (ensemble, ensemble / "members" / "1", ensemble / "members" / "2")])
    np.testing.assert_allclose(frame["freesolv"][[0, 2]], stack.mean(0), rtol=1e-5)
    np.testing.assert_allclose(frame["freesolv_std"][[0, 2]], stack.std(0), rtol=1e-4, atol=1e-6)
    assert frame.loc[0, "freesolv_std"] > 0 and np.isnan(frame.loc[1, "freesolv_std"])
    assert frame["in_domain"].isna().tolist() == [False, True, False]
    trained = api.predict(ensemble, two_task_csv)  # a training molecule is its own neighbour
    split = json.loads((ensemble / "split.json").read_text())
    in_train = trained["smiles"].isin(split["train"])  # (two.csv's SMILES are canonical)
    assert in_train.any() and (trained.loc[in_train, "nn_similarity"] == 1.0).all()
    assert trained.loc[in_train, "in_domain"].all()


def test_screen_uses_the_members_of_an_ensemble_folder(ensemble, tmp_path):
    library = tmp_path / "lib.smi"
    library.write_text("CCO\nCCN\nc1ccccc1\n")
    summary = api.screen(ensemble, [library], tmp_path / "s.parquet", workers=0, progress=False)
    screened = pd.read_parquet(summary.out)
    predicted = api.predict(ensemble, _csv(library), domain=False)
    for column in ("freesolv", "freesolv_std", "doubled_std"):
        np.testing.assert_allclose(screened[column], predicted[column], rtol=1e-5, atol=1e-6)


def _csv(smi):
    path = smi.with_suffix(".csv")
    pd.DataFrame({"smiles": smi.read_text().split()}).to_csv(path, index=False)
    return path
