"""``predict`` output a user can match to the input row by row; ``evaluate`` on a task without
test molecules."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from molgate import api
from molgate.cli.main import main

SMALL = dict(hidden_size=16, ffn_hidden_size=16, epochs=1, batch_size=32, progress=False)


@pytest.fixture(scope="module")
def model(tiny_two_task_model):
    return tiny_two_task_model


@pytest.fixture
def user_file(tmp_path):
    """Extra columns, a duplicate SMILES, and invalid rows among valid ones."""
    path = tmp_path / "new.csv"
    pd.DataFrame({"id": ["m1", "m2", "m3", "m4", "m5", "m6"],
                  "smiles": ["CCO", "C1CC", "c1ccccc1", "CCO", "CC O", "CCN"],
                  "batch": ["A", "A", "B", "B", "C", "C"]}).to_csv(path, index=False)
    return path


def test_every_row_in_order_with_the_input_columns(model, user_file, tmp_path):
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(model), "--data", str(user_file), "--out", str(out),
                 "--on-invalid", "skip"]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["id", "smiles", "batch", "freesolv", "doubled", "nn_similarity",
                                   "in_domain", "reason"]
    assert frame["id"].tolist() == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert frame.loc[[1, 4], "freesolv"].tolist() == ["", ""]  # invalid: empty predictions
    assert frame.loc[1, "reason"] == "invalid SMILES 'C1CC'" and "whitespace" in frame.loc[4, "reason"]
    assert (frame.loc[[0, 2, 3, 5], "reason"] == "").all()
    valid = frame.loc[[0, 2, 3, 5], "freesolv"].astype(float)
    assert np.isfinite(valid).all() and valid[0] == valid[3]  # the duplicate keeps its own row


def test_id_column_keeps_only_it_and_the_smiles(model, user_file, tmp_path, capsys):
    out = tmp_path / "p.parquet"
    assert main(["predict", "--model", str(model), "--data", str(user_file), "--out", str(out),
                 "--on-invalid", "skip", "--id-column", "id", "--no-domain"]) == 0
    assert list(pd.read_parquet(out).columns) == ["id", "smiles", "freesolv", "doubled", "reason"]
    assert "4 molecule(s) predicted, 2 invalid" in capsys.readouterr().out
    assert main(["predict", "--model", str(model), "--data", str(user_file), "--out", str(out),
                 "--id-column", "nope", "--on-invalid", "skip"]) == 2
    assert "column 'nope': --id-column not in the file" in capsys.readouterr().err


def test_evaluate_skips_a_task_without_test_molecules(tmp_path, freesolv, caplog):
    frame = freesolv.iloc[:50].copy()
    frame["sparse"] = np.nan
    frame.loc[:39, "sparse"] = frame.loc[:39, "freesolv"] * 2
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    from molgate.data.splits import Split, save_split
    from molgate.data.table import read_table

    table, _ = read_table(data)
    order = np.argsort([not np.isnan(v) for v in table.y[:, 1]], kind="stable")  # unlabelled first
    split = Split(np.sort(order[10:40]), np.sort(order[40:]), np.sort(order[:10]))
    assert np.isnan(table.y[split.test, 1]).all()
    split_file = save_split(split, table, tmp_path / "split.json")
    out = tmp_path / "m"
    api.train(data, out=out, split_file=split_file, **SMALL)
    with caplog.at_level(logging.WARNING, logger="molgate"):
        metrics = api.evaluate(out)
    assert metrics["sparse"] is None and metrics["freesolv"]["n"] == 10
    assert "task 'sparse' has no labelled test molecule" in caplog.text
    text = (out / "metrics.json").read_text()
    assert "NaN" not in text and json.loads(text)["sparse"] is None
    assert (out / "parity" / "freesolv.png").exists() and not (out / "parity" / "sparse.png").exists()
    assert main(["evaluate", "--model", str(out), "--no-plots"]) == 0
