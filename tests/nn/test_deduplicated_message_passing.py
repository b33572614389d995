"""Message passing computed once per distinct environment must equal chemprop's, batch for batch."""

import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.message_passing import BondMessagePassing
from rdkit import Chem

import molgate.nn.message_passing.environments as labelling
from molgate.nn.message_passing.deduplicated import bond_message_passing_deduplicated
from molgate.nn.message_passing.environments import environments, fold_rows, row_labels

# repeated building blocks (the case it speeds up) next to odd ones: ions, lone atoms, rings, stereo
SMILES = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "c1ccccc1CO", "CC(=O)Nc1ccc(O)cc1", "C", "[Na+].[Cl-]",
          "OCC(N)C(=O)O", "C1CC1C#N", "F/C=C/F", "C[C@H](N)C(=O)O", "O=S(=O)(O)O", "CCO", "[He]",
          "c1ccc2ccccc2c1", "CC(C)(C)C", "C1CC2CCC1C2", "O=[N+]([O-])c1ccccc1", "CCCCCCCCCCCC"]


def _batch(featurizer, smiles):
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in smiles])


@pytest.mark.parametrize("depth,bias", [(1, False), (2, True), (3, False), (3, True), (5, False)])
def test_equals_chemprop(featurizer, depth, bias):
    torch.manual_seed(depth)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 40, bias, depth).eval()
    bmg = _batch(featurizer, SMILES * 3)
    with torch.no_grad():
        expected = mp(bmg)
    got = bond_message_passing_deduplicated(mp, bmg)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # identical molecules get identical atom vectors, bit for bit
    n = len(SMILES)
    first, third = bmg.batch == 0, bmg.batch == 2 * n
    assert torch.equal(got[first], got[third])


def test_batch_without_bonds_falls_back(featurizer):
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 16).eval()
    bmg = _batch(featurizer, ["C", "[Na+].[Cl-]", "O"])
    with torch.no_grad():
        torch.testing.assert_close(bond_message_passing_deduplicated(mp, bmg), mp(bmg), atol=1e-6, rtol=1e-6)


def test_ambiguous_projection_falls_back_to_exact_path(featurizer, monkeypatch):
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 16).eval()
    bmg = _batch(featurizer, SMILES)
    monkeypatch.setattr(labelling, "row_labels", lambda X, weights=None: None)
    with torch.no_grad():
        torch.testing.assert_close(bond_message_passing_deduplicated(mp, bmg), mp(bmg), atol=1e-5, rtol=1e-5)


def test_row_labels_are_exact():
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    labels, n = row_labels(X)
    assert n == 3 and labels[0] == labels[2] and len({int(labels[0]), int(labels[1]), int(labels[3])}) == 3
    # a projection on which distinct rows meet is detected, never trusted
    assert row_labels(X, weights=torch.ones(2, dtype=torch.float64)) is None
    empty, n_empty = row_labels(torch.zeros(0, 3))
    assert empty.shape == (0,) and n_empty == 1


def test_fold_rows_labels_equal_rows_equally():
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 3, (500, 6), generator=g)
    labels, n = fold_rows(rows, [3] * 6)
    _, expected = torch.unique(rows, dim=0, return_inverse=True)
    assert n == int(expected.max()) + 1
    # the same partition of the rows (labels may be numbered differently)
    assert torch.equal(labels[:, None] == labels[None, :], expected[:, None] == expected[None, :])
    # bases too large to pack together are renumbered between packs, still exactly
    big = torch.stack([rows[:, 0] * 2**40, rows[:, 1] * 2**40, rows[:, 2]], dim=1)
    labels, _ = fold_rows(big, [2**42, 2**42, 3])
    _, expected = torch.unique(rows[:, :3], dim=0, return_inverse=True)
    assert torch.equal(labels[:, None] == labels[None, :], expected[:, None] == expected[None, :])
    assert fold_rows(torch.zeros(0, 2, dtype=torch.long), [2, 2])[1] == 0


def test_environments_of_butane(featurizer):
    """Butane: CH3->CH2 and CH2->X bonds at level 0; three 1-hop bond environments; two atom
    environments; copies of a molecule add none."""
    one = environments(_batch(featurizer, ["CCCC"]), depth=2)
    three = environments(_batch(featurizer, ["CCCC"] * 3), depth=2)
    assert one.bond_counts == three.bond_counts == [2, 3]
    assert one.atom_count == three.atom_count == 2
    assert torch.equal(three.atom_labels, one.atom_labels.repeat(3))
    assert environments(_batch(featurizer, ["C", "O"]), depth=2) is None  # no bonds
