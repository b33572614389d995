"""Reading one SMILES string exactly: the whole text is the molecule, or it is invalid.

RDKit's ``MolFromSmiles`` stops at the first whitespace and reads the rest as the molecule's name,
and it stops early at some non-ASCII characters too: ``c1ccc(cc1)CC O`` parses as ethylbenzene and
``CCCCé`` as butane. A user's string must never silently stand for another molecule (in training it
would even be merged with the real one as a "duplicate"), so text with whitespace inside it, or
with any character outside printable ASCII, is rejected here before RDKit sees it. Whitespace
around the string (a CSV cell's padding) is ignored.

Several fragments (``CC(=O)[O-].[Na+]``: salts, mixtures) are one graph to the model; callers warn
about them, and ``largest_fragment`` keeps only the largest, as salt-stripping tools do.
"""

from __future__ import annotations

import re

from rdkit import Chem

_NOT_SMILES = re.compile(r"[^\x21-\x7e]")  # anything but printable, non-space ASCII


def smiles_text_problem(text: str) -> str | None:
    """Why ``text`` (already stripped) cannot be a whole SMILES, or None."""
    found = _NOT_SMILES.search(text)
    if found is None:
        return None
    char = found.group()
    if char.isspace():
        return "whitespace inside; RDKit would read only the part before it"
    return f"character {char!r} is not allowed in SMILES"


def parse_smiles(raw) -> tuple[Chem.Mol | None, str | None]:
    """``(molecule, None)`` or ``(None, reason)``; the reason quotes ``raw`` as given."""
    text = "" if raw is None else str(raw)
    stripped = text.strip()
    if not stripped:
        return None, "empty SMILES"
    problem = smiles_text_problem(stripped)
    if problem is not None:
        return None, f"invalid SMILES '{text}' ({problem})"
    mol = Chem.MolFromSmiles(stripped)
    if mol is None:
        return None, f"invalid SMILES '{text}'"
    return mol, None


def is_multi_fragment(smiles: str, mol: Chem.Mol) -> bool:
    """True when the molecule parsed from ``smiles`` has several disconnected parts (only a SMILES
    with a ``.`` can, so most strings cost nothing)."""
    return "." in smiles and len(Chem.GetMolFrags(mol)) > 1


def keep_largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The fragment with the most heavy atoms; ties go to the first in canonical SMILES order,
    so the choice never depends on how the SMILES was written."""
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(fragments) == 1:
        return mol
    return min(fragments, key=lambda f: (-f.GetNumHeavyAtoms(), Chem.MolToSmiles(f)))
