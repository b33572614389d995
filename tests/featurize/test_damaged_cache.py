"""A damaged graph cache is rebuilt with a warning, never a traceback or wrong graphs."""

import logging
import sqlite3

import numpy as np

from molgate.featurize.graphs import FeaturizerSettings, GraphCache, featurize

SMILES = ["CCO", "c1ccccc1", "CC(=O)O"]


def same(a, b):
    return all(np.array_equal(x.V, y.V) and np.array_equal(x.edge_index, y.edge_index) for x, y in zip(a, b))


def test_a_file_that_is_not_a_database_is_rebuilt(tmp_path, caplog):
    fresh = featurize(SMILES, cache=False, progress=False)
    path = GraphCache(FeaturizerSettings(), tmp_path).path
    path.write_bytes(b"this is not an SQLite file" * 100)
    with caplog.at_level(logging.WARNING, logger="molgate"):
        graphs = featurize(SMILES, cache_dir=tmp_path, progress=False)
    assert same(graphs, fresh) and "is damaged" in caplog.text and "rebuilding it" in caplog.text
    assert same(featurize(SMILES, cache_dir=tmp_path, progress=False), fresh)  # the rebuilt cache works


def test_damaged_records_are_featurised_again(tmp_path, caplog):
    fresh = featurize(SMILES, cache_dir=tmp_path, progress=False)
    path = GraphCache(FeaturizerSettings(), tmp_path).path
    with sqlite3.connect(path) as db:
        db.execute("UPDATE graphs SET graph = ? WHERE smiles = 'CCO'", (b"\x01\x02truncated",))
        db.execute("UPDATE graphs SET graph = substr(graph, 1, 40) WHERE smiles = 'c1ccccc1'")
    with caplog.at_level(logging.WARNING, logger="molgate"):
        graphs = featurize(SMILES, cache_dir=tmp_path, progress=False)
    assert same(graphs, fresh) and "2 damaged record(s)" in caplog.text
