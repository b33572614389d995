"""Model folders: written atomically, never silently replaced or mixed, and every broken one is a
one-line error (missing, empty, corrupt or pickled weights, a config of the wrong shape or edited
after training, no test set). Also --out mistakes, huge labels and truncated SMILES end to end."""

import datetime
import json
import os
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from molgate.cli.main import main
from molgate.outputs import INCOMPLETE, staging_dir

BASE = ["--hidden-size", "16", "--ffn-hidden-size", "16", "--epochs", "1", "--batch-size", "32",
        "--no-progress", "--split", "random"]
SMALL = [*BASE, "--targets", "freesolv", "doubled"]


@pytest.fixture(scope="module")
def model(tmp_path_factory, two_task_csv):
    out = tmp_path_factory.mktemp("folders") / "m"
    assert main(["train", "--data", str(two_task_csv), "--out", str(out), *SMALL]) == 0
    return out


@pytest.fixture
def copy(model, tmp_path):
    """A private copy of the trained folder to break."""
    target = tmp_path / "copy"
    shutil.copytree(model, target)
    return target


def one_line_error(capsys, code, *expected):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in "\n".join(err) and err[-1].startswith("error: ")
    for text in expected:
        assert text in err[-1], err[-1]
    return err[-1]


def test_nonempty_out_is_refused_without_overwrite(model, two_task_csv, capsys):
    before = sorted(p.name for p in model.iterdir())
    code = main(["train", "--data", str(two_task_csv), "--out", str(model), *SMALL])
    one_line_error(capsys, code, str(model), "is not empty; give --overwrite")
    assert sorted(p.name for p in model.iterdir()) == before


def test_overwrite_replaces_the_whole_folder(copy, two_task_csv, capsys):
    assert main(["evaluate", "--model", str(copy), "--no-plots"]) == 0
    (copy / "parity").mkdir()
    (copy / "parity" / "old_task.png").write_text("stale")
    assert main(["train", "--data", str(two_task_csv), "--out", str(copy), "--overwrite", *BASE,
                 "--targets", "freesolv"]) == 0
    assert not (copy / "metrics.json").exists() and not (copy / "parity").exists()
    assert json.loads((copy / "config.json").read_text())["tasks"] == ["freesolv"]
    assert not staging_dir(copy).exists()


def test_a_failed_training_leaves_no_folder(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles,a\nCCO,1\nC1CC,2\n")
    out = tmp_path / "m"
    one_line_error(capsys, main(["train", "--data", str(bad), "--out", str(out), "--no-progress"]),
                   "invalid SMILES")
    assert not out.exists() and not staging_dir(out).exists()


def test_an_interrupted_folder_is_refused(copy, tmp_path, capsys):
    (copy / INCOMPLETE).write_text("")
    code = main(["predict", "--model", str(copy), "--data", str(copy / "test_set.csv"),
                 "--out", str(tmp_path / "p.csv")])
    one_line_error(capsys, code, "incomplete model folder")


def test_add_task_refuses_a_nonempty_out_and_replaces_it_atomically(two_task_csv, freesolv, tmp_path, capsys):
    gate = tmp_path / "gate"
    assert main(["train", "--data", str(two_task_csv), "--out", str(gate), "--method", "gate",
                 "--latent-size", "8", "--lf-size", "8", *SMALL]) == 0
    new = freesolv.iloc[60:120].assign(shifted=lambda f: f["freesolv"] + 1)[["smiles", "shifted"]]
    data = tmp_path / "new.csv"
    new.to_csv(data, index=False)
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    def add(target_dir, *extra):
        return main(["add-task", "--model", str(gate), "--data", str(data), "--target", "shifted",
                     "--out", str(target_dir), "--epochs", "1", "--no-progress", "--split", "random", *extra])

    one_line_error(capsys, add(out), "is not empty; give --overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    one_line_error(capsys, add(tmp_path, "--overwrite"), "holds the input")  # would delete the model
    assert gate.exists() and add(out, "--overwrite") == 0
    assert not (out / "keep.txt").exists() and (out / "weights.pt").exists()
    assert not staging_dir(out).exists() and not (out / INCOMPLETE).exists()


@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "weights.pt").unlink(), "weights.pt is missing"),
    (lambda d: (d / "weights.pt").write_bytes(b""), "cannot read weights.pt (empty or corrupt"),
    (lambda d: (d / "weights.pt").write_bytes(b"not a torch file at all" * 10), "cannot read weights.pt"),
    (lambda d: (d / "weights.pt").write_bytes(pickle.dumps({"w": object()})), "cannot read weights.pt"),
    (lambda d: torch.save({"w": datetime.date(2020, 1, 1)}, d / "weights.pt"),
     "refused: weights.pt is not a plain tensor state dict: it holds a pickled Python object (datetime.date)"),
    (lambda d: torch.save({"w": torch.zeros(3)}, d / "weights.pt"), "weights.pt does not fit the model"),
    (lambda d: (d / "config.json").write_text("{not json"), "cannot read config.json"),
    (lambda d: (d / "config.json").write_text("[1, 2]"), "unsupported model format"),
])
def test_broken_folders_are_one_line_errors(copy, tmp_path, capsys, damage, expected):
    damage(copy)
    code = main(["predict", "--model", str(copy), "--data", str(copy / "test_set.csv"),
                 "--out", str(tmp_path / "p.csv")])
    one_line_error(capsys, code, expected)


@pytest.mark.parametrize("edit", [
    lambda c: c["model"].update(depth=c["model"]["depth"] + 1),   # same weight shapes
    lambda c: c.update(tasks=c["tasks"][::-1]),                    # same weight shapes
    lambda c: c.update(tasks="freesolv"),
    lambda c: c["model"].update(bogus=1),
    lambda c: c.pop("d_v"),
])
def test_edited_config_is_refused(copy, tmp_path, capsys, edit):
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    code = main(["evaluate", "--model", str(copy), "--no-plots"])
    one_line_error(capsys, code, "config.json")


def test_missing_test_set_is_a_one_line_error(copy, capsys):
    (copy / "test_set.csv").unlink()
    one_line_error(capsys, main(["evaluate", "--model", str(copy)]), "test_set.csv is missing")


def test_out_mistakes_are_one_line_errors(model, two_task_csv, tmp_path, capsys):
    pred = ["predict", "--model", str(model), "--data", str(two_task_csv)]
    original = two_task_csv.read_bytes()
    one_line_error(capsys, main([*pred, "--out", str(two_task_csv)]), "would be overwritten")
    assert two_task_csv.read_bytes() == original
    one_line_error(capsys, main([*pred, "--out", str(tmp_path)]), "is a folder")
    if os.geteuid() != 0:  # root may write into any folder
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            one_line_error(capsys, main([*pred, "--out", str(locked / "p.csv")]), "cannot write here")
        finally:
            locked.chmod(0o700)
    one_line_error(capsys, main(["train", "--data", str(two_task_csv), "--out", str(two_task_csv), *SMALL]),
                   "exists and is a file")
    assert two_task_csv.read_bytes() == original


def test_huge_label_is_rejected_end_to_end(tmp_path, freesolv, capsys):
    frame = freesolv.iloc[:60].copy()
    frame.loc[5, "freesolv"] = 1e300
    data = tmp_path / "huge.csv"
    frame.to_csv(data, index=False)
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "m"), *BASE])
    one_line_error(capsys, code, "row 6 (line 7), column 'freesolv'", "too large to standardise")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--on-invalid", "skip",
                 *BASE]) == 0
    assert main(["predict", "--model", str(tmp_path / "m"), "--data", str(data), "--out",
                 str(tmp_path / "p.csv")]) == 0
    assert np.isfinite(pd.read_csv(tmp_path / "p.csv")["freesolv"]).all()
    assert "too large" in pd.read_csv(tmp_path / "m.rejects.csv")["reason"][0]


def test_truncated_smiles_do_not_change_training_labels(tmp_path, capsys):
    rows = ["CCc1ccccc1,1", "CCCCCCCCC,2", "CCCC,3", "c1ccc(cc1)CC O,100", "CCCCCCCCC Cl,100", "CCCCé,100"]
    rows += [f"{'C' * n}O,{n}" for n in range(1, 30)]
    data = tmp_path / "d.csv"
    data.write_text("smiles,a\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "m"
    one_line_error(capsys, main(["train", "--data", str(data), "--out", str(out), "--epochs", "1",
                                 "--no-progress"]), "row 4 (line 5)", "invalid SMILES 'c1ccc(cc1)CC O'")
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--no-progress",
                 "--on-invalid", "skip", "--split", "random"]) == 0
    rejects = pd.read_csv(tmp_path / "m.rejects.csv")
    assert rejects["row"].tolist() == [4, 5, 6]
    split = json.loads((out / "split.json").read_text())
    test = pd.read_csv(out / "test_set.csv")
    assert 100 not in test["a"].tolist() and len(sum((split[p] for p in ("train", "val", "test")), [])) == 32
