"""Chemprop's molecule featuriser with a memo of atom and bond feature rows.

Chemprop builds every atom's multi-hot vector in Python, one ``np.zeros`` and a handful of dict
lookups per atom; for a screen of millions of molecules that is most of the featurising time.
The vector of an atom is a function of the few RDKit properties chemprop reads (atomic number,
total degree, formal charge, chiral tag, total H count, hybridisation, aromaticity, mass), and a
library holds only a few hundred distinct combinations, so each row is computed once by chemprop's
own featuriser and then looked up. Bonds likewise (type, conjugation, ring, stereo). The graph is
identical to chemprop's, array for array and dtype for dtype (tested).

Featurisers with extra atom or bond features, or other atom/bond featuriser classes, are passed
through to chemprop unchanged.
"""

from __future__ import annotations

import numpy as np
from chemprop.data.molgraph import MolGraph
from chemprop.featurizers.atom import MultiHotAtomFeaturizer
from chemprop.featurizers.bond import MultiHotBondFeaturizer
from chemprop.featurizers.molgraph.molecule import SimpleMoleculeMolGraphFeaturizer
from rdkit import Chem


def _atom_key(a: Chem.Atom) -> tuple:
    # everything MultiHotAtomFeaturizer.__call__ reads
    return (a.GetAtomicNum(), a.GetTotalDegree(), a.GetFormalCharge(), a.GetChiralTag(),
            a.GetTotalNumHs(), a.GetHybridization(), a.GetIsAromatic(), a.GetMass())


def _plain_atom_key(a: Chem.Atom) -> tuple:
    # no chiral tag and the element's standard mass: both follow from the other entries
    return (a.GetAtomicNum(), a.GetTotalDegree(), a.GetFormalCharge(), a.GetTotalNumHs(),
            a.GetHybridization(), a.GetIsAromatic())


def _bond_key(b: Chem.Bond) -> tuple:
    # everything MultiHotBondFeaturizer.__call__ reads
    return (b.GetBondType(), b.GetIsConjugated(), b.IsInRing(), b.GetStereo())


def _plain_bond_key(b: Chem.Bond) -> tuple:
    return (b.GetBondType(), b.GetIsConjugated(), b.IsInRing())


class _RowMemo:
    """Key -> row index into a table of feature rows, filled on first sight by ``compute``."""

    def __init__(self, width: int, dtype):
        self.index: dict[tuple, int] = {}
        self._rows: list[np.ndarray] = []
        self.table = np.zeros((0, width), dtype=dtype)
        self.dtype = dtype

    def add(self, key: tuple, row: np.ndarray) -> int:
        self.index[key] = len(self._rows)
        self._rows.append(np.asarray(row).astype(self.dtype))
        self.table = np.stack(self._rows)
        return self.index[key]


class CachedMolGraphFeaturizer:
    """Drop-in for :class:`SimpleMoleculeMolGraphFeaturizer`: ``featurizer(mol) -> MolGraph``."""

    def __init__(self, base: SimpleMoleculeMolGraphFeaturizer):
        self.base = base
        self.atom_fdim, self.bond_fdim = base.atom_fdim, base.bond_fdim
        self.memoised = (type(base.atom_featurizer) is MultiHotAtomFeaturizer
                         and type(base.bond_featurizer) is MultiHotBondFeaturizer
                         and base.extra_atom_fdim == 0 and base.extra_bond_fdim == 0)
        self._atoms = _RowMemo(self.atom_fdim, np.single)  # chemprop's V is float32
        self._bonds = _RowMemo(self.bond_fdim, np.float64)  # and its E float64

    def __call__(self, mol: Chem.Mol, atom_features_extra=None, bond_features_extra=None, *,
                 plain: bool = False) -> MolGraph:
        """The molecule's graph. ``plain=True`` is a promise that the molecule carries no stereo
        (chiral tags, double-bond stereo) and no isotopes, as for a SMILES without ``@``, ``/``,
        ``\\`` and isotope labels: those properties are then not read, which saves a third of the time.
        """
        if (not self.memoised or mol.GetNumAtoms() == 0 or atom_features_extra is not None
                or bond_features_extra is not None):
            return self.base(mol, atom_features_extra, bond_features_extra)
        atom_key, bond_key = (_plain_atom_key, _plain_bond_key) if plain else (_atom_key, _bond_key)
        atoms, bonds = self._atoms, self._bonds
        atom_index, bond_index = atoms.index, bonds.index
        atom_rows = []
        for i in range(mol.GetNumAtoms()):
            a = mol.GetAtomWithIdx(i)
            key = atom_key(a)
            row = atom_index.get(key)
            atom_rows.append(row if row is not None else atoms.add(key, self.base.atom_featurizer(a)))
        n_bonds = mol.GetNumBonds()
        if n_bonds == 0:
            return MolGraph(atoms.table[atom_rows], np.empty((0, self.bond_fdim)), np.array([[], []], int),
                            np.array([], int))
        bond_rows, ends = [], []
        for i in range(n_bonds):
            b = mol.GetBondWithIdx(i)
            key = bond_key(b)
            row = bond_index.get(key)
            bond_rows.append(row if row is not None else bonds.add(key, self.base.bond_featurizer(b)))
            ends.append(b.GetBeginAtomIdx())
            ends.append(b.GetEndAtomIdx())
        uv = np.array(ends, dtype=int)
        E = bonds.table[np.repeat(bond_rows, 2)]  # each bond as u->v then v->u
        edge_index = np.stack([uv, uv.reshape(-1, 2)[:, ::-1].ravel()])
        rev_edge_index = np.arange(2 * n_bonds).reshape(-1, 2)[:, ::-1].ravel()
        return MolGraph(atoms.table[atom_rows], E, edge_index, rev_edge_index)
