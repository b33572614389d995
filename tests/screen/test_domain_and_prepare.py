"""The fast nearest-neighbour search and the per-molecule preparation of a screen."""

from dataclasses import asdict

import numpy as np
import pytest
import torch
from chemprop.data import BatchMolGraph
from rdkit import Chem, DataStructs

from molgate.featurize.graphs import FeaturizerSettings, mol_from_smiles
from molgate.nn.dmpnn import MoleculeEncoder
from molgate.screen import prepare
from molgate.screen.domain import NearestNeighbourIndex, fingerprint_generator, fingerprints, nearest_similarity
from molgate.screen.reader import LibraryChunk


@pytest.fixture(scope="module")
def smiles(freesolv) -> list[str]:
    return list(freesolv["smiles"])


def test_index_finds_rdkits_nearest_similarity_exactly(smiles):
    reference = fingerprints(smiles[:300])
    index = NearestNeighbourIndex(reference)
    gen = fingerprint_generator()
    for s in smiles[300:500] + ["C", "[Na+].[Cl-]", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"]:
        fp = gen.GetFingerprint(Chem.MolFromSmiles(s))
        assert index.nearest(fp) == nearest_similarity(fp, reference), s
    # a reference molecule is its own nearest neighbour
    assert index.nearest(reference[7]) == 1.0


def test_index_edge_cases():
    gen = fingerprint_generator()
    empty_fp = DataStructs.ExplicitBitVect(2048)
    fp = gen.GetFingerprint(Chem.MolFromSmiles("CCO"))
    assert NearestNeighbourIndex([]).nearest(fp) == nearest_similarity(fp, []) == 0.0
    index = NearestNeighbourIndex(fingerprints(["CCO", "c1ccccc1"]))
    assert index.nearest(empty_fp) == 0.0
    assert NearestNeighbourIndex([empty_fp]).nearest(fp) == 0.0


WRITTEN_ODDLY = ["OCC", "Oc1ccccc1", "C(=O)(C)Nc1ccc(O)cc1", "N[C@@H](C)C(=O)O", "OC(=O)[C@H](C)N",
                 "F/C=C/Cl", "Cl/C=C/F", "[Na+].[O-]C(C)=O", "C"]


@pytest.mark.parametrize("add_hydrogens", [False, True])
def test_prepared_molecules_encode_as_their_canonical_form(add_hydrogens):
    """Skipping the canonical round trip for molecules without stereo must not change a prediction."""
    settings = FeaturizerSettings(add_hydrogens=add_hydrogens)
    prepare.init_worker(asdict(settings), None)
    chunk = LibraryChunk(0, "lib.smi", list(range(1, len(WRITTEN_ODDLY) + 2)), WRITTEN_ODDLY + ["not a smiles"])
    prepared = prepare.prepare_chunk(chunk)
    assert prepared.smiles == WRITTEN_ODDLY and prepared.similarity is None
    assert [r["row"] for r in prepared.rejects] == [len(WRITTEN_ODDLY) + 1]
    featurizer = settings.build()
    canonical = [featurizer(mol_from_smiles(Chem.MolToSmiles(Chem.MolFromSmiles(s)), settings)) for s in WRITTEN_ODDLY]
    torch.manual_seed(0)
    enc = MoleculeEncoder(featurizer.atom_fdim, featurizer.bond_fdim, hidden_size=32, depth=3).eval()
    with torch.no_grad():
        got, expected = enc(BatchMolGraph(prepared.graphs)), enc(BatchMolGraph(canonical))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    for g, c, s in zip(prepared.graphs, canonical, WRITTEN_ODDLY):
        if "@" in s:  # chiral molecules go through the canonical SMILES: the same graph exactly
            np.testing.assert_array_equal(g.V, c.V)


def test_prepared_similarity_is_the_nearest_training_neighbour(smiles):
    prepare.init_worker(asdict(FeaturizerSettings()), smiles[:100])
    library = smiles[100:140] + smiles[:3]
    prepared = prepare.prepare_chunk(LibraryChunk(0, "lib.smi", list(range(1, 44)), library))
    reference = fingerprints(smiles[:100])
    gen = fingerprint_generator()
    expected = [nearest_similarity(gen.GetFingerprint(Chem.MolFromSmiles(s)), reference) for s in library]
    np.testing.assert_array_equal(prepared.similarity, expected)
    assert list(prepared.similarity[-3:]) == [1.0, 1.0, 1.0]
