import logging

import numpy as np
import pytest
import torch
from rdkit import Chem

from molgate.featurize import graphs as graphs_mod
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import (FeaturizerSettings, GraphCache, _decode, _encode,
                                      feature_dims, featurize)

SMILES = ["CCO", "c1ccccc1O", "C", "CC(=O)Nc1ccc(O)cc1", "ClC(Cl)Cl"]


def test_graphs_match_rdkit_atom_and_bond_counts(tmp_path):
    graphs = featurize(SMILES, cache_dir=tmp_path, progress=False)
    d_v, d_e = feature_dims()
    for s, g in zip(SMILES, graphs):
        mol = Chem.MolFromSmiles(s)
        assert g.V.shape == (mol.GetNumAtoms(), d_v)
        assert g.E.shape == (2 * mol.GetNumBonds(), d_e)
        assert g.edge_index.shape == (2, 2 * mol.GetNumBonds())


def test_add_hydrogens_setting_changes_the_graph(tmp_path):
    (g,) = featurize(["CCO"], FeaturizerSettings(add_hydrogens=True), cache_dir=tmp_path, progress=False)
    assert g.V.shape[0] == 9


def test_encode_decode_roundtrip_including_a_bondless_molecule(tmp_path):
    for g in featurize(SMILES, cache=False, progress=False):
        back = _decode(_encode(g))
        for a, b in zip(g, back):
            np.testing.assert_array_equal(np.asarray(a), b)


def test_second_run_reads_the_cache_and_does_not_featurise(tmp_path, monkeypatch, caplog):
    first = featurize(SMILES, cache_dir=tmp_path, progress=False)

    def boom(self):
        raise AssertionError("featuriser must not run on a cache hit")

    monkeypatch.setattr(graphs_mod.FeaturizerSettings, "build", boom)
    with caplog.at_level(logging.INFO, logger="molgate"):
        second = featurize(SMILES, cache_dir=tmp_path, progress=False)
    assert "featurised 0 molecule(s), 5 from cache" in caplog.text
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.V, b.V)
        np.testing.assert_array_equal(a.rev_edge_index, b.rev_edge_index)


def test_cache_is_keyed_by_settings(tmp_path):
    a = GraphCache(FeaturizerSettings("v2"), tmp_path).path
    b = GraphCache(FeaturizerSettings("v1"), tmp_path).path
    assert a != b
    with pytest.raises(ValueError, match="atom_featurizer"):
        FeaturizerSettings("v9")


def test_dataset_masks_missing_labels_and_loader_is_seeded(tmp_path):
    graphs = featurize(SMILES, cache_dir=tmp_path, progress=False)
    y = np.array([[1.0, np.nan], [2, 3], [np.nan, np.nan], [4, 5], [6, np.nan]])
    ds = GraphDataset(graphs, y)
    batch = ds.collate([0, 2])
    assert batch.mask.tolist() == [[True, False], [False, False]]
    assert batch.y.tolist() == [[1.0, 0.0], [0.0, 0.0]]  # no NaN reaches the model
    assert len(batch.bmg) == 2
    order = lambda seed: [b.y.tolist() for b in make_loader(ds, 2, shuffle=True, seed=seed)]  # noqa: E731
    assert order(0) == order(0)
    assert torch.equal(next(iter(make_loader(ds, 5))).mask, torch.from_numpy(~np.isnan(y)))
