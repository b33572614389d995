"""``--split-file`` validation: overlapping parts, missing parts, unknown or re-spelt molecules."""

import json
import logging

import numpy as np
import pytest

from molgate.cli.main import main
from molgate.data.splits import load_split
from molgate.data.table import MoleculeTable
from molgate.errors import InputError

SMILES = ["CCO", "CCN", "CCC", "CCCC", "c1ccccc1", "CC(C)O"]


@pytest.fixture
def table():
    return MoleculeTable(list(SMILES), np.arange(len(SMILES), dtype=float)[:, None], ["a"])


def split_file(tmp_path, **parts):
    payload = {"format": "molgate-split-v1", "kind": "random", "seed": 0,
               "train": SMILES[:4], "val": [SMILES[4]], "test": [SMILES[5]]}
    payload.update(parts)
    payload = {k: v for k, v in payload.items() if v is not None}
    path = tmp_path / "split.json"
    path.write_text(json.dumps(payload))
    return path


def test_overlapping_parts_are_refused(tmp_path, table):
    path = split_file(tmp_path, test=["CC(C)O", "CCO"])  # CCO is also in train: test leakage
    with pytest.raises(InputError, match="molecule 'CCO' is in both the train and the test part"):
        load_split(path, table)


def test_overlap_through_another_spelling_is_refused(tmp_path, table):
    path = split_file(tmp_path, test=["CC(C)O", "OCC"])  # OCC is CCO
    with pytest.raises(InputError, match="appears twice in the split"):
        load_split(path, table)


@pytest.mark.parametrize("part", ["train", "val", "test"])
def test_a_missing_part_is_a_clear_error(tmp_path, table, part):
    with pytest.raises(InputError, match=f"the split file has no '{part}' part"):
        load_split(split_file(tmp_path, **{part: None}), table)


def test_a_part_that_is_not_a_list_of_smiles_is_an_error(tmp_path, table):
    with pytest.raises(InputError, match="'val' part is not a list of SMILES"):
        load_split(split_file(tmp_path, val=[1, 2]), table)


def test_non_canonical_smiles_are_matched_and_unknown_ones_warned(tmp_path, table, caplog):
    path = split_file(tmp_path, train=["OCC", "CCN", "CCC", "CCCC", "CCCCCCCC"])
    with caplog.at_level(logging.WARNING, logger="molgate"):
        split = load_split(path, table)
    assert split.train.tolist() == [0, 1, 2, 3]
    assert "1 molecule(s) of the split are not among the rows used from" in caplog.text
    assert "CCCCCCCC" in caplog.text


def test_cli_split_file_errors_are_one_line(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("smiles,a\n" + "".join(f"{s},{i}\n" for i, s in enumerate(SMILES)))
    path = split_file(tmp_path, val=None)
    code = main(["train", "--data", str(data), "--split-file", str(path), "--out", str(tmp_path / "m"),
                 "--epochs", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {path}: the split file has no 'val' part (it needs train, val "
                                 "and test lists of SMILES)"]
