"""The memoised featuriser must give chemprop's graph exactly, whatever the molecule."""

import numpy as np
import pytest
from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
from chemprop.featurizers.atom import MultiHotAtomFeaturizer
from rdkit import Chem

from molgate.featurize.cached_featurizer import CachedMolGraphFeaturizer
from molgate.featurize.graphs import FeaturizerSettings

DIVERSE = ["CCO", "c1ccccc1O", "CC(=O)[O-].[Na+]", "C[N+](C)(C)C", "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O",
           "F/C=C/F", "F/C=C\\F", "[13CH4]", "[2H]OC", "C", "[Na+].[Cl-]", "[He]", "O=S(=O)(O)O",
           "c1ccc2[nH]ccc2c1", "C#N", "ClC(Br)I", "[Si](C)(C)(C)C", "B(O)(O)O", "P(=O)(O)(O)O",
           "C1CC2CCC1C2", "O=[N+]([O-])c1ccccc1", "[Fe+2]", "CC(C)(C)OO"]


def _assert_same_graph(a, b):
    for name in ("V", "E", "edge_index", "rev_edge_index"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("atom_featurizer", [MultiHotAtomFeaturizer.v2, MultiHotAtomFeaturizer.v1,
                                             MultiHotAtomFeaturizer.organic])
@pytest.mark.parametrize("add_hs", [False, True])
def test_cached_graph_is_chemprops_graph(atom_featurizer, add_hs):
    base = SimpleMoleculeMolGraphFeaturizer(atom_featurizer=atom_featurizer())
    cached = CachedMolGraphFeaturizer(base)
    assert cached.memoised and (cached.atom_fdim, cached.bond_fdim) == (base.atom_fdim, base.bond_fdim)
    for _ in range(2):  # the second pass reads every row from the memo
        for s in DIVERSE:
            mol = Chem.MolFromSmiles(s)
            if add_hs:
                mol = Chem.AddHs(mol)
            _assert_same_graph(cached(mol), base(mol))
    assert 0 < len(cached._atoms.index) < sum(Chem.MolFromSmiles(s).GetNumAtoms() for s in DIVERSE) * 2


def test_rows_are_memoised_once_per_distinct_atom():
    cached = CachedMolGraphFeaturizer(SimpleMoleculeMolGraphFeaturizer())
    cached(Chem.MolFromSmiles("CCCCCCCCCC"))
    assert len(cached._atoms.index) == 2  # terminal CH3 and inner CH2
    assert len(cached._bonds.index) == 1


def test_extra_features_and_empty_molecules_fall_back_to_chemprop():
    base = SimpleMoleculeMolGraphFeaturizer(extra_atom_fdim=2)
    cached = CachedMolGraphFeaturizer(base)
    assert not cached.memoised
    mol = Chem.MolFromSmiles("CCO")
    extra = np.ones((3, 2), dtype=np.float32)
    _assert_same_graph(cached(mol, extra), base(mol, extra))
    plain = CachedMolGraphFeaturizer(SimpleMoleculeMolGraphFeaturizer())
    _assert_same_graph(plain(Chem.Mol()), SimpleMoleculeMolGraphFeaturizer()(Chem.Mol()))


def test_settings_build_the_cached_featurizer():
    f = FeaturizerSettings(atom_featurizer="v1").build()
    assert isinstance(f, CachedMolGraphFeaturizer)
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    _assert_same_graph(f(mol), SimpleMoleculeMolGraphFeaturizer(atom_featurizer=MultiHotAtomFeaturizer.v1())(mol))


def test_plain_molecules_skip_stereo_and_mass_yet_give_chemprops_graph(freesolv):
    from molgate.screen.library import enumerate_molecules
    from molgate.screen.prepare import is_plain

    base = SimpleMoleculeMolGraphFeaturizer()
    cached = CachedMolGraphFeaturizer(base)
    smiles = list(freesolv["smiles"]) + [s for s in DIVERSE if is_plain(s)]
    smiles += list(enumerate_molecules(300, seed=3))
    plain = [s for s in smiles if is_plain(s)]
    assert len(plain) > 600
    for s in plain:
        mol = Chem.MolFromSmiles(s)
        _assert_same_graph(cached(mol, plain=True), base(mol))
    # the full key and the plain key never share a memo row wrongly
    for s in DIVERSE:
        mol = Chem.MolFromSmiles(s)
        _assert_same_graph(cached(mol), base(mol))


def test_plain_means_no_stereo_and_no_isotopes():
    from molgate.screen.prepare import is_plain

    assert is_plain("CCO") and is_plain("[NH4+].[Cl-]") and is_plain("c1ccccc1")
    for s in ("C[C@H](N)O", "C[C@@H](N)O", "F/C=C/F", "F\\C=C/F", "[13CH4]", "[2H]O"):
        assert not is_plain(s)
