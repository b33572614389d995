"""CAS -> SMILES through chemicals' identifier database, the organic filter and canonical SMILES.

Only the primary CAS of each database entry is used: chemicals also lists secondary CAS numbers
as synonyms, and some of those point at the wrong compound (dicarbon -> acetylene).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from chemicals.identifiers import get_pubchem_db
from rdkit import Chem, RDLogger

ALLOWED_ELEMENTS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I"})

# Rejection reasons, in the order they are checked.
REASONS = ("no_smiles", "unparsable", "multi_fragment", "charged", "radical", "no_carbon",
           "disallowed_element")


@dataclass(frozen=True)
class Verdict:
    """Outcome of the filter: canonical SMILES (with and without stereo) or a rejection reason."""
    smiles: str | None
    smiles_flat: str | None
    reason: str | None

    @property
    def accepted(self) -> bool:
        return self.reason is None


@lru_cache(maxsize=1)
def pubchem_index() -> dict:
    """chemicals' identifier database keyed by primary CAS (as int)."""
    db = get_pubchem_db()
    db.finish_loading()
    return db.CAS_index


def _reject(reason: str) -> Verdict:
    return Verdict(None, None, reason)


@lru_cache(maxsize=None)
def check_smiles(smiles: str | None) -> Verdict:
    """Keep organic, neutral, single-fragment, closed-shell molecules of allowed elements."""
    if not smiles:
        return _reject("no_smiles")
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return _reject("unparsable")
    if len(Chem.GetMolFrags(mol)) > 1:
        return _reject("multi_fragment")
    if Chem.GetFormalCharge(mol) != 0:
        return _reject("charged")
    atoms = list(mol.GetAtoms())
    if any(a.GetNumRadicalElectrons() for a in atoms):
        return _reject("radical")
    symbols = {a.GetSymbol() for a in atoms}
    if "C" not in symbols:
        return _reject("no_carbon")
    if not symbols <= ALLOWED_ELEMENTS:
        return _reject("disallowed_element")
    canonical = Chem.MolToSmiles(mol)
    flat = Chem.Mol(mol)
    Chem.RemoveStereochemistry(flat)
    return Verdict(canonical, Chem.MolToSmiles(flat), None)


def cas_to_int(cas) -> int:
    """CAS number (string like '64-17-5' or int) as an int; -1 where it is malformed."""
    if isinstance(cas, (int, np.integer)):
        return int(cas)
    digits = str(cas).strip().replace("-", "")
    return int(digits) if digits.isdigit() else -1


def smiles_of_cas(cas: int) -> str | None:
    obj = pubchem_index().get(int(cas))
    return obj.smiles if obj else None


def classify_cas(cas) -> Verdict:
    """Filter verdict for one CAS number (string or int)."""
    return check_smiles(smiles_of_cas(cas_to_int(cas)))
