"""Every CLI command, through ``main(argv)`` as the console script calls it."""

import json

import pandas as pd
import pytest

from molgate.cli.main import build_parser, main

SMALL = ["--hidden-size", "32", "--ffn-hidden-size", "32", "--epochs", "2", "--batch-size", "32",
         "--no-progress"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, two_task_csv):
    data, out = two_task_csv, tmp_path_factory.mktemp("cli") / "m"
    assert main(["train", "--data", str(data), "--smiles-column", "smiles", "--targets", "freesolv",
                 "doubled", "--method", "mtl", "--split", "scaffold", "--seed", "0", "--out", str(out),
                 *SMALL]) == 0
    return data, out


@pytest.mark.parametrize("cmd", [[], ["train"], ["add-task"], ["screen"], ["library"], ["library", "generate"],
                                 ["benchmark"], ["predict"], ["evaluate"], ["split"], ["data"],
                                 ["data", "build"], ["data", "summary"], ["data", "split"]])
def test_every_command_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    assert "usage: molgate" in capsys.readouterr().out


def test_train_writes_a_model_directory(model_dir):
    _, out = model_dir
    config = json.loads((out / "config.json").read_text())
    assert config["tasks"] == ["freesolv", "doubled"] and config["method"] == "mtl"


def test_train_stl_with_evaluate(tmp_path, model_dir, capsys):
    data, _ = model_dir
    assert main(["train", "--data", str(data), "--targets", "freesolv", "--method", "stl",
                 "--split", "random", "--out", str(tmp_path / "s"), "--evaluate", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "rmse" in out and "freesolv" in out
    assert (tmp_path / "s" / "metrics.json").exists()


def test_predict_writes_one_column_per_task(model_dir, tmp_path):
    data, out = model_dir
    pred = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(out), "--data", str(data), "--out", str(pred)]) == 0
    frame = pd.read_csv(pred)
    assert list(frame.columns) == ["smiles", "freesolv", "doubled", "nn_similarity", "in_domain"]
    assert len(frame) == len(pd.read_csv(data))
    assert main(["predict", "--model", str(out), "--data", str(data), "--out",
                 str(tmp_path / "pred.parquet")]) == 0
    assert pd.read_parquet(tmp_path / "pred.parquet").shape == frame.shape


def test_evaluate_prints_and_writes_metrics(model_dir, capsys):
    _, out = model_dir
    assert main(["evaluate", "--model", str(out), "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "pearson" in text and "doubled" in text
    assert set(json.loads((out / "metrics.json").read_text())) == {"freesolv", "doubled"}


def test_split_command_writes_split_files(model_dir, tmp_path):
    data, _ = model_dir
    assert main(["split", "--data", str(data), "--split", "scaffold", "--seeds", "0", "1",
                 "--out", str(tmp_path / "splits")]) == 0
    files = sorted(p.name for p in (tmp_path / "splits").glob("*.json"))
    assert files == ["scaffold_seed0.json", "scaffold_seed1.json"]
    counts = pd.read_csv(tmp_path / "splits" / "scaffold_seed0_counts.csv", index_col=0)
    assert counts.loc["doubled", ["train", "val", "test"]].sum() == pd.read_csv(data)["doubled"].notna().sum()


def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles,a\nCCO,1\nnot_a_smiles,2\n")
    code = main(["train", "--data", str(bad), "--out", str(tmp_path / "m"), *SMALL])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == f"error: {bad}, row 2 (line 3), column 'smiles': invalid SMILES 'not_a_smiles'"


def test_predict_skip_writes_rejects(model_dir, tmp_path):
    _, out = model_dir
    data = tmp_path / "new.csv"
    data.write_text("smiles\nCCO\nC1CC\nc1ccccc1\n")
    assert main(["predict", "--model", str(out), "--data", str(data), "--out",
                 str(tmp_path / "p.csv")]) == 2
    assert main(["predict", "--model", str(out), "--data", str(data), "--out",
                 str(tmp_path / "p.csv"), "--on-invalid", "skip"]) == 0
    frame = pd.read_csv(tmp_path / "p.csv")  # every row kept; the invalid one empty, with its reason
    assert len(frame) == 3 and frame["freesolv"].isna().tolist() == [False, True, False]
    rejects = pd.read_csv(tmp_path / "p.rejects.csv")
    assert rejects.loc[0, "row"] == 2 and rejects.loc[0, "reason"] == "invalid SMILES 'C1CC'"


def test_not_a_model_directory(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path)]) == 2
    assert "config.json missing" in capsys.readouterr().err


def test_parser_knows_the_contract_options():
    args = build_parser().parse_args(["train", "--data", "d.csv", "--out", "o", "--on-invalid", "skip",
                                      "--targets", "a", "b", "--method", "stl", "--split", "random"])
    assert args.targets == ["a", "b"] and args.on_invalid == "skip" and args.method == "stl"


def test_train_options_reach_the_model(tmp_path, two_task_frame):
    long = two_task_frame.melt(id_vars="smiles", var_name="task", value_name="value").dropna()
    data = tmp_path / "long.csv"
    long.to_csv(data, index=False)
    out = tmp_path / "m"
    assert main(["train", "--data", str(data), "--long", "--method", "mtl", "--split", "random",
                 "--split-sizes", "0.6", "0.2", "0.2", "--atom-featurizer", "v1", "--aggregation", "sum",
                 "--depth", "2", "--dropout", "0.1", "--ffn-layers", "2", "--no-cache",
                 "--cache-dir", str(tmp_path / "unused"), "--out", str(out), *SMALL]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["tasks"] == ["freesolv", "doubled"]
    assert config["featurizer"]["atom_featurizer"] == "v1"
    assert config["model"] | {"aggregation": "sum", "depth": 2, "dropout": 0.1, "ffn_layers": 2} == config["model"]
    counts = pd.read_csv(out / "split_counts.csv", index_col=0)
    assert abs(counts.loc["(molecules)", "test_%"] - 20) < 2
    assert not (tmp_path / "unused").exists()  # --no-cache wins over --cache-dir


def test_add_task_extends_a_gate_model(tmp_path, two_task_csv, freesolv, capsys):
    gate = tmp_path / "gate"
    assert main(["train", "--data", str(two_task_csv), "--targets", "freesolv", "doubled", "--method",
                 "gate", "--latent-size", "16", "--lf-size", "16", "--out", str(gate), *SMALL]) == 0
    new = freesolv.iloc[60:140].rename(columns={"smiles": "SMILES"}).copy()
    new["shifted"] = new["freesolv"] + 10
    data = tmp_path / "new.csv"
    new[["SMILES", "shifted"]].to_csv(data, index=False)
    out = tmp_path / "gate+shifted"
    assert main(["add-task", "--model", str(gate), "--data", str(data), "--smiles-column", "SMILES",
                 "--target", "shifted", "--out", str(out), "--split", "random", "--epochs", "2",
                 "--batch-size", "32", "--patience", "3", "--init-encoder", "random",
                 "--no-cache-frozen", "--perturbations", "per_step", "--map-sources", "0",
                 "--no-progress", "--evaluate"]) == 0
    printed = capsys.readouterr().out
    assert "task 'shifted' added" in printed and "unchanged" in printed and "rmse" in printed
    pred = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(out), "--data", str(two_task_csv), "--out", str(pred)]) == 0
    assert list(pd.read_csv(pred).columns)[:4] == ["smiles", "freesolv", "doubled", "shifted"]
    added = json.loads((out / "config.json").read_text())["added_tasks"]
    assert added[0]["task"] == "shifted" and added[0]["init_encoder"] == "random"
    assert added[0]["cache_frozen"] is False and added[0]["split"] == "random"
    assert added[0]["perturbations"] == "per_step" and added[0]["map_sources"] is None  # 0: every source
    # a task the model already has is a one-line error, exit 2
    assert main(["add-task", "--model", str(gate), "--data", str(two_task_csv), "--target", "doubled",
                 "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_add_task_cli_defaults_are_the_workflows():
    from molgate.jobs.add_task import MAP_SOURCES

    a = build_parser().parse_args(["add-task", "--model", "m", "--data", "d.csv", "--target", "t", "--out", "o"])
    assert (a.perturbations, a.map_sources) == ("bank", MAP_SOURCES)


def test_ddp_options_reach_the_training_settings():
    from molgate.cli.main import _model_params

    args = build_parser().parse_args(["train", "--data", "x.csv", "--out", "o", "--devices", "2",
                                      "--num-nodes", "3"])
    params = _model_params(args)
    assert params["devices"] == 2 and params["num_nodes"] == 3
    from molgate.api import PropertyRegressor

    settings = PropertyRegressor(**{k: v for k, v in params.items()}).train_settings
    assert settings.num_nodes == 3 and settings.distributed
