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
    return (a.GetAtomicNum(), a.GetTotalDegree(), a.GetFormalCharge(), int(a.GetChiralTag()),
            a.GetTotalNumHs(), int(a.GetHybridization()), a.GetIsAromatic(), a.GetMass())


def _bond_key(b: Chem.Bond) -> tuple:
    # everything MultiHotBondFeaturizer.__call__ reads
    return (int(b.GetBondType()), b.GetIsConjugated(), b.IsInRing(), int(b.GetStereo()))


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

    def __call__(self, mol: Chem.Mol, atom_features_extra=None, bond_features_extra=None) -> MolGraph:
        if (not self.memoised or mol.GetNumAtoms() == 0 or atom_features_extra is not None
                or bond_features_extra is not None):
            return self.base(mol, atom_features_extra, bond_features_extra)
        atoms, bonds = self._atoms, self._bonds
        atom_rows = []
        for a in mol.GetAtoms():
            key = _atom_key(a)
            row = atoms.index.get(key)
            atom_rows.append(row if row is not None else atoms.add(key, self.base.atom_featurizer(a)))
        bond_rows, ends = [], []
        for b in mol.GetBonds():
            key = _bond_key(b)
            row = bonds.index.get(key)
            bond_rows.append(row if row is not None else bonds.add(key, self.base.bond_featurizer(b)))
            ends.append((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
        V = atoms.table[atom_rows]
        if not bond_rows:
            return MolGraph(V, np.empty((0, self.bond_fdim)), np.array([[], []], int), np.array([], int))
        E = np.repeat(bonds.table[bond_rows], 2, axis=0)  # each bond as u->v then v->u
        uv = np.array(ends, dtype=int)
        edge_index = np.stack([uv.ravel(), uv[:, ::-1].ravel()])
        rev_edge_index = np.arange(len(E)).reshape(-1, 2)[:, ::-1].ravel()
        return MolGraph(V, E, edge_index, rev_edge_index)
