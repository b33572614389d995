"""The add-task workflow: offline, a one-line refusal, and what it records of the path it took."""

from __future__ import annotations

import json
import socket
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgate.cli.main import main
from molgate.errors import InputError
from molgate.estimator import PropertyRegressor
from molgate.jobs.add_task import ADD_TASK_ALIGNMENT, MAP_SOURCES, PERTURB_MOLECULES, add_task
from molgate.jobs.train import train
from molgate.methods import GateConfig

from tests.conftest import SMALL


@pytest.fixture(scope="module")
def gate_model(tmp_path_factory, two_task_csv) -> Path:
    out = tmp_path_factory.mktemp("pre") / "gate"
    train(two_task_csv, targets=["freesolv", "doubled"], method="gate", out=out,
          gate=GateConfig(latent_size=16, lf_size=16, perturb_count=2), **SMALL)
    return out


@pytest.fixture(scope="module")
def new_csv(tmp_path_factory, freesolv) -> Path:
    df = freesolv.iloc[100:180].copy()
    df["shifted"] = df["freesolv"] + 2.0
    path = tmp_path_factory.mktemp("new") / "new.csv"
    df[["smiles", "shifted"]].to_csv(path, index=False)
    return path


class NoNetwork(socket.socket):
    def __init__(self, *args, **kwargs):
        raise OSError("network access during add-task")


def test_adding_a_task_works_offline(monkeypatch, gate_model, new_csv, tmp_path, freesolv):
    def refuse(*args, **kwargs):
        raise OSError("network access during add-task")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    with pytest.raises(OSError):  # the guard is live
        socket.create_connection(("example.org", 80))
    out = tmp_path / "offline"
    add_task(gate_model, new_csv, "shifted", out, epochs=1, batch_size=32, progress=False)
    monkeypatch.undo()
    pred = PropertyRegressor.load(out).predict(freesolv["smiles"].iloc[:5].tolist())
    assert pred.shape == (5, 3) and np.isfinite(pred).all()


def test_a_task_already_in_the_model_is_a_one_line_error(gate_model, two_task_csv, tmp_path, capsys):
    code = main(["add-task", "--model", str(gate_model), "--data", str(two_task_csv), "--target", "doubled",
                 "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]
    assert "task 'doubled' already exists" in err[0] and "freesolv, doubled" in err[0]
    assert not (tmp_path / "x").exists()


def test_the_saved_model_records_how_the_task_was_added(gate_model, new_csv, tmp_path):
    # the model's own settings have a distance term: the perturbation bank, or fresh draws per step
    bank = add_task(gate_model, new_csv, "shifted", tmp_path / "bank", epochs=1, progress=False,
                    alignment_defaults="model")
    old = add_task(gate_model, new_csv, "shifted", tmp_path / "per-step", epochs=1, progress=False,
                   perturbations="per_step", map_sources=None, perturb_molecules=None, alignment_defaults="model")
    # the default has none: the frozen tasks' LF points are all the frozen side it needs
    default = add_task(gate_model, new_csv, "shifted", tmp_path / "default", epochs=1, progress=False)
    info = [json.loads((r.model_dir / "config.json").read_text())["added_tasks"][-1] for r in (bank, old, default)]
    assert (info[0]["context"], info[0]["perturbations"], info[0]["map_sources"]) == ("bank", "bank", MAP_SOURCES)
    assert (info[1]["context"], info[1]["perturbations"], info[1]["map_sources"]) == ("trunk", "per_step", None)
    assert (info[0]["perturb_molecules"], info[1]["perturb_molecules"]) == (PERTURB_MOLECULES, None)
    assert (info[2]["context"], info[2]["alignment_defaults"]) == ("lf", "addition")
    assert info[0]["alignment_defaults"] == "model"
    assert bank.cache_seconds > 0 and default.cache_seconds > 0


@pytest.mark.parametrize("option, message", [({"perturbations": "fresh"}, "perturbations must be"),
                                             ({"map_sources": 0}, "map_sources must be"),
                                             ({"perturb_molecules": 0}, "perturb_molecules must be"),
                                             ({"align_molecules": 0}, "align_molecules must be"),
                                             ({"init_encoder": "source"}, "init_encoder must be one of"),
                                             ({"align_molecules": 8, "alignment_defaults": "model"},
                                              "at least the perturbed molecules"),
                                             ({"source_weights": "learned"}, "source_weights must be"),
                                             ({"alignment": {"zeta": 1.0}}, "unknown setting"),
                                             ({"alignment": {"beta": -1.0}}, "beta must be a number >= 0"),
                                             ({"alignment": {"form": "log"}}, "alignment: form"),
                                             ({"alignment_defaults": "tuned"}, "alignment_defaults must be")])
def test_bad_options_are_refused_before_any_work(gate_model, new_csv, tmp_path, option, message):
    with pytest.raises(InputError, match=message):
        add_task(gate_model, new_csv, "shifted", tmp_path / "x", progress=False, **option)
    assert not (tmp_path / "x").exists()


def test_the_new_task_reads_units_from_a_suite_manifest(gate_model, new_csv, tmp_path):
    data = tmp_path / "suite" / "new.csv"
    data.parent.mkdir()
    data.write_text(new_csv.read_text())
    (data.parent / "manifest.json").write_text(json.dumps({"tasks": {"shifted": {"unit": "kcal/mol"}}}))
    out = add_task(gate_model, data, "shifted", tmp_path / "units", epochs=1, progress=False).model_dir
    units = json.loads((out / "config.json").read_text())["units"]
    assert units[-1] == "kcal/mol" and len(units) == 3
    assert pd.read_csv(out / "test_set.csv").columns.tolist()[0] == "smiles"


def test_cli_freeze_trunk_keeps_the_new_tasks_trunk_at_the_pretrained_weights(gate_model, new_csv, tmp_path):
    out = tmp_path / "frozen-trunk"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--freeze-trunk", "--perturb-molecules", "4", "--align-molecules", "6", "--epochs", "1",
                 "--batch-size", "32", "--no-progress"]) == 0
    info = json.loads((out / "config.json").read_text())["added_tasks"][-1]
    assert (info["train_trunk"], info["perturb_molecules"], info["align_molecules"]) == (False, 4, 6)
    assert info["source_weights"] == "uniform" and info["source_ratios"] == [1.0, 1.0]
    pre = torch.load(gate_model / "weights.pt", weights_only=True)
    new = torch.load(out / "weights.pt", weights_only=True)
    added = {k: v for k, v in new.items() if k.startswith("added.0.trunk.")}
    assert added and all(torch.equal(v, pre[k[len("added.0."):]]) for k, v in added.items())


def test_correlation_source_weights_are_recorded_and_average_one(gate_model, new_csv, tmp_path):
    out = add_task(gate_model, new_csv, "shifted", tmp_path / "corr", epochs=1, batch_size=32, progress=False,
                   source_weights="correlation").model_dir
    info = json.loads((out / "config.json").read_text())["added_tasks"][-1]
    assert info["source_weights"] == "correlation"
    assert len(info["source_ratios"]) == 2 and np.mean(info["source_ratios"]) == pytest.approx(1.0)


def test_cli_alignment_options_replace_only_the_given_settings(gate_model, new_csv, tmp_path):
    out = tmp_path / "strong"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--alignment-defaults", "model", "--alignment-form", "raw", "--beta", "30",
                 "--delta", "1e4", "--epochs", "1", "--batch-size", "32", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    base, added = config["base"]["gate"]["weights"], config["added"][-1]["gate"]["weights"]
    assert (added["form"], added["beta"], added["delta"]) == ("raw", 30.0, 1e4)
    assert (added["alpha"], added["gamma"]) == (base["alpha"], base["gamma"])
    assert base["form"] == "scale_free" and base["beta"] == 0.03  # the pre-trained part is unchanged
    assert config["added_tasks"][-1]["alignment"] == {"beta": 30.0, "delta": 1e4, "form": "raw"}
    with pytest.raises(SystemExit):
        main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
              "--out", str(tmp_path / "bad"), "--beta", "-1"])


def test_the_default_alignment_is_the_benchmarked_one_and_options_replace_its_settings(gate_model, new_csv, tmp_path):
    out = tmp_path / "default"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--epochs", "1", "--batch-size", "32", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    base, added = config["base"]["gate"]["weights"], config["added"][-1]["gate"]["weights"]
    assert {k: added[k] for k in ADD_TASK_ALIGNMENT} == ADD_TASK_ALIGNMENT
    assert ADD_TASK_ALIGNMENT == {"form": "raw", "alpha": 1.0, "beta": 100.0, "gamma": 1.0, "delta": 0.0}
    assert base["form"] == "scale_free" and base["beta"] == 0.03  # the pre-trained part is unchanged
    assert config["added_tasks"][-1]["alignment_defaults"] == "addition"
    out = tmp_path / "beta30"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--beta", "30", "--epochs", "1", "--batch-size", "32", "--no-progress"]) == 0
    added = json.loads((out / "config.json").read_text())["added"][-1]["gate"]["weights"]
    assert {k: added[k] for k in ADD_TASK_ALIGNMENT} == dict(ADD_TASK_ALIGNMENT, beta=30.0)
    with pytest.raises(SystemExit):
        main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
              "--out", str(tmp_path / "bad"), "--alignment-defaults", "tuned"])


def test_a_narrower_new_latent_is_saved_reloaded_and_leaves_the_old_tasks_alone(gate_model, new_csv, tmp_path, freesolv):
    out = tmp_path / "narrow"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--latent-size", "8", "--epochs", "1", "--batch-size", "32", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["added"][-1]["gate"]["latent_size"] == 8 and config["base"]["gate"]["latent_size"] == 16
    assert config["added_tasks"][-1]["latent_size"] == 8
    assert config["added"][-1]["gate"]["lf_size"] == 16  # the shared LF frame keeps its width
    weights = torch.load(out / "weights.pt", weights_only=True)
    assert weights["added.0.head.layers.0.weight"].shape[-1] == 8
    smiles = freesolv["smiles"].iloc[:20].tolist()
    before, after = PropertyRegressor.load(gate_model).predict(smiles), PropertyRegressor.load(out).predict(smiles)
    assert np.array_equal(before, after[:, :2]) and np.isfinite(after[:, 2]).all()
    with pytest.raises(InputError, match="latent_size must be"):
        add_task(gate_model, new_csv, "shifted", tmp_path / "x", progress=False, latent_size=0)


def test_affine_new_transfer_is_saved_reloaded_and_leaves_the_old_tasks_alone(gate_model, new_csv, tmp_path, freesolv):
    out = tmp_path / "affine"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--transfer-layers", "0", "--epochs", "1", "--batch-size", "32",
                 "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["added"][-1]["gate"]["transfer_layers"] == 0 and config["base"]["gate"]["transfer_layers"] == 1
    assert config["added_tasks"][-1]["transfer_layers"] == 0
    weights = torch.load(out / "weights.pt", weights_only=True)
    assert "added.0.transfer.layers.0.weight" in weights and "added.0.transfer.layers.1.weight" not in weights
    assert "added.0.inverse.layers.1.weight" not in weights
    smiles = freesolv["smiles"].iloc[:20].tolist()
    before, after = PropertyRegressor.load(gate_model).predict(smiles), PropertyRegressor.load(out).predict(smiles)
    assert np.array_equal(before, after[:, :2]) and np.isfinite(after[:, 2]).all()
    with pytest.raises(InputError, match="transfer_layers must be"):
        add_task(gate_model, new_csv, "shifted", tmp_path / "x", progress=False, transfer_layers=-1)
    with pytest.raises(SystemExit):
        main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
              "--out", str(tmp_path / "bad"), "--transfer-layers", "-1"])


def test_related_initialisation_records_the_frozen_task_it_started_from(gate_model, new_csv, tmp_path):
    out = tmp_path / "related"
    assert main(["add-task", "--model", str(gate_model), "--data", str(new_csv), "--target", "shifted",
                 "--out", str(out), "--init-encoder", "related", "--epochs", "1", "--batch-size", "32",
                 "--no-progress"]) == 0
    info = json.loads((out / "config.json").read_text())["added_tasks"][-1]
    assert info["init_encoder"] == "related" and info["init_source"] in ("freesolv", "doubled")
    default = add_task(gate_model, new_csv, "shifted", tmp_path / "plain", epochs=1, progress=False).model_dir
    assert json.loads((default / "config.json").read_text())["added_tasks"][-1]["init_source"] is None


def test_an_addition_does_not_warn_about_its_frozen_parts_being_in_eval_mode(gate_model, new_csv, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add_task(gate_model, new_csv, "shifted", tmp_path / "quiet", epochs=1, batch_size=32, progress=False)
    assert not [w for w in caught if "eval mode" in str(w.message)]
