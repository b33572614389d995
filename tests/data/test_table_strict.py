"""Input that used to be read as something else: truncated SMILES, huge labels, repeated column
names, wide files with ``task``/``value`` columns, salts, stale rejects files."""

import logging

import numpy as np
import pytest

from molgate.data.table import read_smiles, read_table, rejects_path, write_rejects
from molgate.errors import InputError

TRUNCATED = ["c1ccc(cc1)CC O", "CCCCCCCCC Cl", "CCCCé", "CC\tO", "CC\u00a0O"]


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("smiles", TRUNCATED)
def test_smiles_not_read_whole_is_invalid_not_a_duplicate(tmp_path, smiles):
    # RDKit reads 'c1ccc(cc1)CC O' as ethylbenzene: it must not merge with the real row
    p = write(tmp_path, f"smiles,a\nCCc1ccccc1,1\nCCCCCCCCC,2\nCCCC,3\n{smiles},100\n")
    with pytest.raises(InputError) as err:
        read_table(p)
    assert "row 4 (line 5)" in str(err.value) and "invalid SMILES" in str(err.value)
    table, rejects = read_table(p, on_invalid="skip")
    assert table.y[:, 0].tolist() == [1.0, 2.0, 3.0]  # labels untouched by the bad row
    assert [r.row for r in rejects] == [4] and rejects[0].value == smiles


def test_padding_around_a_smiles_is_still_fine(tmp_path):
    table, _ = read_table(write(tmp_path, "smiles,a\n  CCO ,1\n"))
    assert table.smiles == ["CCO"]


@pytest.mark.parametrize("smiles", TRUNCATED)
def test_predict_input_rejects_truncated_smiles(tmp_path, smiles):
    _, parsed, rejects = read_smiles(write(tmp_path, f"smiles\nCCO\n{smiles}\n"), on_invalid="skip")
    assert parsed == ["CCO", None] and rejects[0].row == 2


def test_label_too_large_to_standardise(tmp_path):
    p = write(tmp_path, "smiles,a\nCCO,1\nCCN,1e300\nCCC,-2e31\nCCCC,3\n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column 'a': label '1e300' is too large"):
        read_table(p)
    table, rejects = read_table(p, on_invalid="skip")
    assert [(r.row, r.column) for r in rejects] == [(2, "a"), (3, "a")]
    assert np.isfinite(table.y[~np.isnan(table.y)]).all() and np.nanmax(np.abs(table.y)) == 3


def test_missing_tokens_are_unknown_labels(tmp_path):
    table, rejects = read_table(write(tmp_path, "smiles,a\nCCO,1\nCCN,NaN\nCCC,NA\nCCCC,null\nCCCCC,None\n"),
                                require_labels=False)
    assert rejects == [] and np.isnan(table.y[1:, 0]).all()


def test_repeated_column_name_is_an_error(tmp_path):
    p = write(tmp_path, "smiles,a,b,a\nCCO,1,2,3\n")
    with pytest.raises(InputError, match=r"column 'a': column name repeated in the header \(columns 2 and 4\)"):
        read_table(p)


def test_wide_file_with_task_and_value_columns_stays_wide(tmp_path):
    p = write(tmp_path, "smiles,task,value\nCCO,1.5,2\nCCN,2.5,3\n")
    table, _ = read_table(p)
    assert table.tasks == ["task", "value"] and table.y.tolist() == [[1.5, 2.0], [2.5, 3.0]]
    # the targets name columns of their own: wide, even though task holds names here
    q = write(tmp_path, "smiles,task,value,density\nCCO,x,2,0.8\nCCN,y,3,0.9\n", "q.csv")
    assert read_table(q, targets=["density"])[0].tasks == ["density"]
    # forced either way
    assert read_table(q, targets=["value", "density"], long_format=False)[0].tasks == ["value", "density"]
    assert read_table(q, long_format=True)[0].tasks == ["x", "y"]


def test_long_format_warns_about_columns_it_does_not_read(tmp_path, caplog):
    p = write(tmp_path, "smiles,task,value,note\nCCO,a,1,x\nCCN,b,2,y\n")
    with caplog.at_level(logging.WARNING, logger="molgate"):
        assert read_table(p)[0].tasks == ["a", "b"]
    assert "['note'] are not used" in caplog.text


def test_stale_rejects_file_is_removed(tmp_path):
    stale = rejects_path(tmp_path / "model")
    stale.write_text("row,column,value,reason\n2,smiles,C1CC,invalid\n")
    assert write_rejects([], tmp_path / "model") is None
    assert not stale.exists()


def test_multi_fragment_smiles_warn_and_largest_fragment_keeps_the_largest(tmp_path, caplog):
    p = write(tmp_path, "smiles,a\nCC(=O)[O-].[Na+],1\nCCO,2\n[Cl-].C[NH3+],3\n")
    with caplog.at_level(logging.WARNING, logger="molgate"):
        table, _ = read_table(p)
    assert table.smiles[0] == "CC(=O)[O-].[Na+]"
    assert "2 SMILES have several fragments" in caplog.text and "row 1" in caplog.text
    stripped, _ = read_table(p, largest_fragment=True)
    assert stripped.smiles == ["CC(=O)[O-]", "CCO", "C[NH3+]"]
