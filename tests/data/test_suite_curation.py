"""Source tiers, neighbour outliers and the curated build (flags, review file, drop counts)."""
import json

import numpy as np
import pandas as pd
import pytest
from rdkit import DataStructs

from molgate.data.suite import build_suite, outliers, tiers
from molgate.data.suite.aggregate import aggregate


def _rec(rows):
    return pd.DataFrame(rows, columns=["smiles", "task", "value", "source", "kind"])


def test_tiers_and_corroboration():
    rec = _rec([
        ("CCO", "melting_point", 159.0, "CRC", "measured"),
        ("CCO", "melting_point", 159.6, "Bradley", "measured"),        # agrees: corroborated
        ("CCC", "melting_point", 85.5, "CRC", "measured"),
        ("CCC", "melting_point", 95.5, "CAS Common Chemistry", "measured"),  # 10 K apart: no
        ("CCO", "hansen_dD", 15.8, "Hansen-HSPiPy", "semi-empirical"),
        ("CCO", "hansen_dD", 15.8, "Hansen-Schrier", "semi-empirical"),  # same family: no
        ("CCO", "parachor", 127.0, "derived", "derived"),
        ("CCO", "boiling_point", 351.4, "Yaws", "compiled"),
        ("CCO", "boiling_point", 351.5, "CRC", "measured"),
    ])
    ann = tiers.annotate(rec, aggregate(rec)).set_index(["smiles", "task"])
    assert ann.loc[("CCO", "melting_point"), "corroborated"]
    assert not ann.loc[("CCC", "melting_point"), "corroborated"]
    assert not ann.loc[("CCO", "hansen_dD"), "corroborated"]
    assert ann.loc[("CCO", "parachor"), "tier"] == "estimated"
    assert ann.loc[("CCO", "hansen_dD"), "tier"] == "compiled"
    assert ann.loc[("CCO", "boiling_point"), "tier"] == "measured"
    assert ann.loc[("CCO", "boiling_point"), "corroborated"]
    # Corroborated beats uncorroborated; CRC beats Common Chemistry alone.
    assert ann.loc[("CCO", "melting_point"), "score"] > ann.loc[("CCC", "melting_point"), "score"]
    assert tiers.source_grade("CRC") > tiers.source_grade("Bradley") > tiers.source_grade("Yaws")


ALCOHOLS = ["C" * n + "O" for n in range(4, 14)]


def test_similar_pairs_matches_brute_force():
    smiles = ALCOHOLS + ["c1ccccc1", "c1ccccc1C", "c1ccccc1CC", "CCN", "CCCN", "OCCO"]
    fps, sizes = outliers.fingerprints(smiles)
    got = {tuple(p) for p in outliers.similar_pairs(fps, 0.8)}
    want = {(i, j) for i in range(len(fps)) for j in range(i + 1, len(fps))
            if DataStructs.TanimotoSimilarity(fps[i], fps[j]) >= 0.8}
    assert got == want and len(want) > 5
    near = {tuple(p) for p in outliers.similar_pairs(fps, 0.8, sizes, 2)}
    assert near == {(i, j) for i, j in want if abs(sizes[i] - sizes[j]) <= 2} and near < want


def _series(bad_value, corroborated):
    # n-alkanol-like values rising 20 K per CH2: C9's analogues are C7-C11 (+-2 heavy atoms,
    # Tanimoto 1.0); C9 gets `bad_value` if given.
    tb = {s: 390.0 + 20.0 * (len(s) - 5) for s in ALCOHOLS}
    if bad_value is not None:
        tb["CCCCCCCCCO"] = bad_value
    long = pd.DataFrame({"smiles": list(tb), "task": "boiling_point", "value": list(tb.values()),
                         "corroborated": False})
    long.loc[long["smiles"] == "CCCCCCCCCO", "corroborated"] = corroborated
    return long


def test_outlier_flags_a_single_source_value_far_from_its_analogues():
    long = _series(150.0, corroborated=False)
    stats = outliers.neighbour_table(long)
    flags = outliers.find_outliers(long, stats)
    assert flags["smiles"].tolist() == ["CCCCCCCCCO"]
    row = stats.set_index("smiles").loc["CCCCCCCCCO"]
    assert row["n_neighbours"] >= outliers.MIN_NEIGHBOURS and row["robust_z"] < -outliers.Z_LIMIT
    assert "analogues' median" in flags["detail"].iloc[0]


def test_outlier_spares_good_and_corroborated_values():
    good = _series(None, False)
    assert outliers.find_outliers(good, outliers.neighbour_table(good)).empty
    long = _series(150.0, corroborated=True)
    assert outliers.find_outliers(long, outliers.neighbour_table(long)).empty


# RON and MON are small and linked only to each other, so the build is fast and has flags.
OCTANE = ["RON", "MON"]


@pytest.fixture(scope="module")
def octane(tmp_path_factory):
    keep_dir = tmp_path_factory.mktemp("keep")
    drop_dir = tmp_path_factory.mktemp("drop")
    keep = build_suite(OCTANE, keep_dir, progress=False, drop_flagged=False)
    drop = build_suite(OCTANE, drop_dir, progress=False)
    return keep_dir, drop_dir, keep, drop


def test_drop_flagged_changes_counts_by_the_flagged_numbers(octane):
    keep_dir, drop_dir, keep, drop = octane
    assert drop["options"]["drop_flagged"] and not keep["options"]["drop_flagged"]
    assert sum(keep["curation"]["tasks"][t]["flagged"] for t in OCTANE) > 0
    for t in OCTANE:
        k, d = keep["curation"]["tasks"][t], drop["curation"]["tasks"][t]
        assert k["flagged"] == d["flagged"] == d["dropped_flagged"]
        assert keep["tasks"][t]["count"] - drop["tasks"][t]["count"] == d["flagged"]
        assert d["after"] == d["before"] - d["flagged"] == drop["tasks"][t]["count"]
        assert sum(d["flagged_by_rule"].values()) >= d["flagged"]
    long = pd.read_parquet(drop_dir / "suite_long.parquet")
    assert (long["flags"] == "").all()
    rules = drop["curation"]["rules"]
    assert rules["octane_sensitivity"]["flagged"] == sum(
        drop["curation"]["tasks"][t]["flagged_by_rule"].get("octane_sensitivity", 0)
        for t in OCTANE)


def test_flagged_values_keep_their_sources_in_the_review_file(octane):
    keep_dir, drop_dir, keep, _ = octane
    long = pd.read_parquet(keep_dir / "suite_long.parquet")
    assert list(long.columns[-3:]) == ["tier", "corroborated", "flags"]
    flagged = long[long["flags"] != ""].set_index(["smiles", "task"]).sort_index()
    review = pd.read_csv(keep_dir / "suite_review.csv").set_index(["smiles", "task"]).sort_index()
    assert len(flagged) == len(review) > 0
    assert review.index.equals(flagged.index)
    assert (review["sources"] == flagged["sources"]).all()
    assert (review["flags"] == flagged["flags"]).all()
    assert np.allclose(review["value"], flagged["value"])
    assert review["detail"].str.len().gt(0).all() and not review["dropped"].any()
    dropped = pd.read_csv(drop_dir / "suite_review.csv")
    assert len(dropped) == len(review) and dropped["dropped"].all()


def test_require_corroboration(tmp_path, octane):
    m = build_suite(OCTANE, tmp_path, progress=False, require_corroboration=["RON"])
    ron = m["curation"]["tasks"]["RON"]
    long = pd.read_parquet(tmp_path / "suite_long.parquet")
    assert long[long["task"] == "RON"]["corroborated"].all()
    assert ron["after"] == ron["before"] - ron["dropped_flagged"] - ron["dropped_uncorroborated"]
    assert ron["dropped_uncorroborated"] > 0
    assert m["curation"]["tasks"]["MON"]["dropped_uncorroborated"] == 0
    assert m["options"]["require_corroboration"] == ["RON"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == m
    with pytest.raises(ValueError, match="not in the build: logP"):
        build_suite(OCTANE, tmp_path, progress=False, require_corroboration=["logP"])
