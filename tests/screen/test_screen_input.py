"""Screen input that used to slip through: SMILES RDKit reads only in part, salts, an empty
library, a --where that cannot be evaluated, and the rejects file's name."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from molgate import api
from molgate.cli.main import main
from molgate.data.table import rejects_path



@pytest.fixture(scope="module")
def model(tiny_two_task_model):
    return tiny_two_task_model


def screen(model, library, out, **kw):
    return api.screen(model, [library], out, workers=0, progress=False, chunk_size=4, **kw)


def test_smiles_read_only_in_part_are_rejected(model, tmp_path):
    library = tmp_path / "lib.csv"
    smiles = ["CCc1ccccc1", "c1ccc(cc1)CC O", "CCCCé", "CCCCCCCCC Cl", "CCCC", "CC\tO"]
    pd.DataFrame({"smiles": smiles}).to_csv(library, index=False)
    out = tmp_path / "hits.parquet"
    summary = screen(model, library, out)
    assert summary.read == 6 and summary.invalid == 4
    assert pd.read_parquet(out)["smiles"].tolist() == ["CCc1ccccc1", "CCCC"]
    rejects = pd.read_csv(summary.rejects_file, keep_default_na=False)
    assert rejects["row"].tolist() == [2, 3, 4, 6]
    assert rejects["reason"].str.startswith("invalid SMILES (").all()


def test_rejects_file_is_named_as_documented(model, tmp_path):
    library = tmp_path / "lib.smi"
    library.write_text("CCO\nC1CC\n")
    out = tmp_path / "hits.parquet"
    summary = screen(model, library, out)
    assert summary.rejects_file == str(tmp_path / "hits.rejects.csv") == str(rejects_path(out))


def test_salts_are_counted_and_largest_fragment_predicts_the_parent(model, tmp_path, caplog):
    library = tmp_path / "salts.smi"
    library.write_text("CC(=O)[O-].[Na+]\nCC(=O)[O-]\nCCO\n")
    with caplog.at_level(logging.WARNING, logger="molgate"):
        whole = screen(model, library, tmp_path / "whole.parquet", domain=False)
    assert whole.multi_fragment == 1 and "1 molecule(s) have several fragments" in caplog.text
    stripped = screen(model, library, tmp_path / "stripped.parquet", domain=False, largest_fragment=True)
    frame = pd.read_parquet(stripped.out)
    assert frame["smiles"].tolist()[0] == "CC(=O)[O-].[Na+]"  # as given, predicted as its parent
    assert frame.loc[0, "freesolv"] == pytest.approx(frame.loc[1, "freesolv"], abs=1e-6)
    assert pd.read_parquet(whole.out).loc[0, "freesolv"] != pytest.approx(frame.loc[1, "freesolv"], abs=1e-6)


def test_empty_library_warns(model, tmp_path, caplog):
    library = tmp_path / "empty.smi"
    library.write_text("")
    with caplog.at_level(logging.WARNING, logger="molgate"):
        summary = screen(model, library, tmp_path / "e.parquet")
    assert summary.read == 0 and "the library holds no molecules" in caplog.text


def test_where_that_cannot_be_evaluated_fails_before_any_work(model, tmp_path, capsys):
    library = tmp_path / "lib.smi"
    library.write_text("CCO\nCCN\n")
    out = tmp_path / "hits.parquet"
    code = main(["screen", "--model", str(model), "--library", str(library), "--out", str(out),
                 "--where", "freesolv > 1/0", "--workers", "0", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == "error: --where: cannot evaluate 'freesolv > 1/0': float division by zero"
    assert not out.exists() and not (tmp_path / "hits.parquet.parts").exists()


def test_screen_out_must_not_be_the_library(model, tmp_path, capsys):
    library = tmp_path / "lib.parquet"
    pd.DataFrame({"smiles": ["CCO"]}).to_parquet(library)
    code = main(["screen", "--model", str(model), "--library", str(library), "--out", str(library),
                 "--workers", "0", "--no-progress"])
    assert code == 2 and "would be overwritten" in capsys.readouterr().err
    assert pd.read_parquet(library)["smiles"].tolist() == ["CCO"]


def test_a_damaged_split_of_the_model_is_a_one_line_error(model, tmp_path, capsys):
    import shutil

    broken = tmp_path / "m"
    shutil.copytree(model, broken)
    (broken / "split.json").write_text("{truncated")
    library = tmp_path / "lib.smi"
    library.write_text("CCO\n")
    code = main(["screen", "--model", str(broken), "--library", str(library), "--out",
                 str(tmp_path / "s.parquet"), "--workers", "0", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith(f"error: {broken / 'split.json'}: cannot read the model's split")
