import json

import numpy as np
import pytest

from molgate.data.splits import (balanced_group_split, load_split, make_split, save_split,
                                 scaffold_key, split_counts, write_chemprop_splits)
from molgate.data.table import MoleculeTable, read_table
from molgate.errors import InputError


@pytest.fixture(scope="module")
def table(freesolv):
    """642 FreeSolv molecules, one large task and two small ones (60 and 25 labels)."""
    rng = np.random.default_rng(1)
    n = len(freesolv)
    y = np.full((n, 3), np.nan)
    y[:, 0] = freesolv["freesolv"].to_numpy()
    y[rng.choice(n, 60, replace=False), 1] = 1.0
    y[rng.choice(n, 25, replace=False), 2] = 2.0
    from molgate.data.table import canonicalize
    return MoleculeTable([canonicalize(s) for s in freesolv["smiles"]], y, ["big", "small", "tiny"])


@pytest.mark.parametrize("kind", ["random", "scaffold"])
def test_split_is_a_partition_and_leaks_nothing(table, kind):
    split = make_split(table, kind, seed=0)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert sum(map(len, parts)) == len(table)
    assert set.union(*parts) == set(range(len(table)))
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    test_smiles = {table.smiles[i] for i in split.test}
    assert not test_smiles & {table.smiles[i] for i in split.train}


@pytest.mark.parametrize("kind", ["random", "scaffold"])
def test_split_is_balanced_per_task(table, kind):
    split = make_split(table, kind, seed=3)
    counts = split_counts(table, split)
    for task, total in table.label_counts().items():
        for part, frac in (("val", 0.1), ("test", 0.1)):
            assert abs(counts.loc[task, part] - frac * total) <= max(2, 0.1 * frac * total), (task, part)


def test_split_is_seeded(table):
    a, b, c = (make_split(table, "scaffold", seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.test, b.test)
    assert set(a.test) != set(c.test)


def test_scaffold_split_keeps_scaffold_groups_together(table):
    split = make_split(table, "scaffold", seed=0)
    keys = [scaffold_key(s) for s in table.smiles]
    train_keys = {keys[i] for i in split.train}
    assert not train_keys & {keys[i] for i in split.test}


def test_acyclic_molecules_are_spread_over_all_parts(table):
    split = make_split(table, "scaffold", seed=0)
    acyclic = np.array([scaffold_key(s).startswith("acyclic:") for s in table.smiles])
    assert acyclic.sum() > 100
    for idx in split.parts().values():
        assert acyclic[idx].sum() > 0
    assert scaffold_key("CCCCCCO") == scaffold_key("CCCCCCN") == "acyclic:CCCCCCC"
    assert scaffold_key("c1ccccc1CCO") == "c1ccccc1"
    # hypervalent atoms (phosphate P, SF6) do not break the generic skeleton
    assert scaffold_key("CCOP(=O)(OCC)OCC") == scaffold_key("CCSP(=O)(OCC)OCC")
    assert scaffold_key("FS(F)(F)(F)(F)F").startswith("acyclic:")


def test_large_groups_go_to_train():
    keys = ["A"] * 50 + [f"k{i}" for i in range(50)]
    train, val, test = balanced_group_split(keys, np.ones((100, 1), bool), seed=0)
    assert set(range(50)) <= set(train)
    assert len(val) == 10 and len(test) == 10


def test_bad_sizes_are_rejected(table):
    with pytest.raises(ValueError, match="three non-negative fractions"):
        make_split(table, "random", sizes=(0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match="split type"):
        make_split(table, "kmeans")


def test_save_and_load_roundtrip_and_chemprop_export(table, tmp_path):
    split = make_split(table, "scaffold", seed=2)
    path = save_split(split, table, tmp_path / "s.json")
    payload = json.loads(path.read_text())
    assert payload["counts"]["tiny"]["test"] == int(table.mask[split.test, 2].sum())
    again = load_split(path, table)
    for a, b in zip(split.parts().values(), again.parts().values()):
        np.testing.assert_array_equal(np.sort(a), b)
    cp = json.loads(write_chemprop_splits(split, tmp_path / "cp.json").read_text())
    assert sorted(cp[0]) == ["test", "train", "val"] and len(cp[0]["test"]) == len(split.test)


def test_loading_a_split_that_misses_molecules_is_an_error(table, tmp_path, two_task_csv):
    other, _ = read_table(two_task_csv)
    path = save_split(make_split(other, "random"), other, tmp_path / "s.json")
    with pytest.raises(InputError, match="are in no part of the split"):
        load_split(path, table)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="not a molgate split file"):
        load_split(bad, table)


def test_capping_train_keeps_val_test_whole_and_records_exclusions(table, tmp_path):
    from molgate.data.splits import cap_train_per_task

    split = make_split(table, "random", seed=0)
    capped = cap_train_per_task(table, split, 100, seed=0)
    np.testing.assert_array_equal(capped.test, split.test)
    np.testing.assert_array_equal(capped.val, split.val)
    assert set(capped.train) < set(split.train)
    assert table.mask[capped.train, 0].sum() <= 100 + table.mask[capped.train, 1:].any(1).sum()
    assert table.mask[capped.train, 2].sum() == table.mask[split.train, 2].sum()  # under the cap
    path = save_split(capped, table, tmp_path / "c.json")
    assert len(json.loads(path.read_text())["excluded"]) == len(split.train) - len(capped.train)
    np.testing.assert_array_equal(load_split(path, table).train, capped.train)
