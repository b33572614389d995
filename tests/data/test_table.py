import logging

import numpy as np
import pandas as pd
import pytest

from molgate.data.table import read_smiles, read_table, rejects_path, write_rejects
from molgate.errors import InputError


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_wide_table_keeps_missing_labels_as_nan(tmp_path):
    p = write(tmp_path, "smiles,a,b\nCCO,1.0,\nCCN,,2.5\nc1ccccc1,3,4\n")
    table, rejects = read_table(p)
    assert table.tasks == ["a", "b"]
    assert table.smiles == ["CCO", "CCN", "c1ccccc1"]
    np.testing.assert_array_equal(table.mask, [[True, False], [False, True], [True, True]])
    assert table.label_counts() == {"a": 2, "b": 2}
    assert rejects == []


def test_long_format_equals_wide(tmp_path):
    wide = write(tmp_path, "smiles,a,b\nCCO,1.0,\nCCN,,2.5\n", "w.csv")
    long = write(tmp_path, "smiles,task,value\nCCO,a,1.0\nCCN,b,2.5\n", "l.csv")
    tw, _ = read_table(wide)
    tl, _ = read_table(long)
    assert tl.tasks == ["a", "b"]
    np.testing.assert_array_equal(np.nan_to_num(tw.y, nan=-9), np.nan_to_num(tl.y, nan=-9))


def test_long_format_unknown_task_is_an_error(tmp_path):
    p = write(tmp_path, "smiles,task,value\nCCO,a,1.0\n")
    with pytest.raises(InputError, match="task 'zz' does not occur"):
        read_table(p, targets=["zz"])


def test_invalid_smiles_names_file_row_and_column(tmp_path):
    p = write(tmp_path, "smiles,a\nCCO,1\nC1CC,2\n")
    with pytest.raises(InputError) as err:
        read_table(p)
    msg = str(err.value)
    assert str(p) in msg and "row 2 (line 3)" in msg and "column 'smiles'" in msg
    assert "invalid SMILES 'C1CC'" in msg


def test_skip_writes_every_rejected_row_with_reason(tmp_path):
    p = write(tmp_path, "smiles,a,b\nCCO,1,2\nC1CC,2,3\n,4,5\nCCN,abc,6\nCCC,inf,7\n")
    table, rejects = read_table(p, on_invalid="skip")
    assert table.smiles == ["CCO", "CCN", "CCC"]
    assert np.isnan(table.y[1, 0]) and table.y[1, 1] == 6  # only the bad cell is dropped
    reasons = {(r.row, r.column): r.reason for r in rejects}
    assert reasons == {(2, "smiles"): "invalid SMILES 'C1CC'", (3, "smiles"): "empty SMILES",
                       (4, "a"): "non-numeric label 'abc'", (5, "a"): "infinite label 'inf'"}
    out = write_rejects(rejects, tmp_path / "model")
    assert out == tmp_path / "model.rejects.csv"
    saved = pd.read_csv(out)
    assert list(saved.columns) == ["row", "column", "value", "reason", "smiles"]
    assert len(saved) == 4


def test_non_numeric_and_infinite_labels_are_errors(tmp_path):
    with pytest.raises(InputError, match=r"row 1 \(line 2\), column 'a': non-numeric label 'x'"):
        read_table(write(tmp_path, "smiles,a\nCCO,x\n"))
    with pytest.raises(InputError, match="infinite label"):
        read_table(write(tmp_path, "smiles,a\nCCO,-inf\n", "i.csv"))


def test_missing_columns_empty_file_and_unlabelled_task(tmp_path):
    with pytest.raises(InputError, match="column 'smi': missing SMILES column"):
        read_table(write(tmp_path, "smiles,a\nCCO,1\n"), smiles_column="smi")
    with pytest.raises(InputError, match="column 'zz': missing target column"):
        read_table(write(tmp_path, "smiles,a\nCCO,1\n", "m.csv"), targets=["zz"])
    with pytest.raises(InputError, match="empty"):
        read_table(write(tmp_path, "", "e.csv"))
    with pytest.raises(InputError, match="no data rows"):
        read_table(write(tmp_path, "smiles,a\n", "h.csv"))
    with pytest.raises(InputError, match="column 'b': the task has no labels"):
        read_table(write(tmp_path, "smiles,a,b\nCCO,1,\n", "n.csv"))
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_conflicting_duplicates_are_merged_by_median_and_reported(tmp_path, caplog):
    p = write(tmp_path, "smiles,a\nCCO,1\nOCC,3\nC(C)O,8\nCCN,5\n")  # three spellings of ethanol
    with caplog.at_level(logging.WARNING, logger="molgate"):
        table, _ = read_table(p)
    assert table.smiles == ["CCO", "CCN"]
    assert table.y[0, 0] == 3.0
    assert table.source_rows[0] == [1, 2, 3]
    assert "conflicting values, aggregated by median" in caplog.text


def test_rows_without_any_label_are_reported_not_silently_dropped(tmp_path, caplog):
    p = write(tmp_path, "smiles,a\nCCO,1\nCCN,\n")
    with caplog.at_level(logging.WARNING, logger="molgate"):
        table, _ = read_table(p)
    assert table.smiles == ["CCO"]
    assert "1 row(s) carry no label" in caplog.text


def test_parquet_input(tmp_path):
    p = tmp_path / "d.parquet"
    pd.DataFrame({"smiles": ["CCO", "CCN"], "a": [1.0, np.nan], "b": [np.nan, 2.0]}).to_parquet(p)
    table, _ = read_table(p)
    assert table.smiles == ["CCO", "CCN"] and np.isnan(table.y[1, 0]) and table.y[1, 1] == 2.0


def test_read_smiles_for_prediction(tmp_path):
    p = write(tmp_path, "smiles\nCCO\nxx\n")
    with pytest.raises(InputError, match="row 2"):
        read_smiles(p)
    frame, smiles, rejects = read_smiles(p, on_invalid="skip")
    assert smiles == ["CCO", None] and len(frame) == 2 and rejects[0].row == 2


def test_rejects_path_replaces_file_suffix(tmp_path):
    assert rejects_path("out/pred.csv").name == "pred.rejects.csv"
    assert rejects_path("out/model").name == "model.rejects.csv"
    assert write_rejects([], tmp_path / "x") is None


def test_table_subset_and_select(two_task_csv):
    table, _ = read_table(two_task_csv)
    sub = table.subset([0, 2]).select_tasks(["doubled"])
    assert len(sub) == 2 and sub.tasks == ["doubled"]
    assert sub.to_frame().columns.tolist() == ["smiles", "doubled"]
