"""Applicability domain: how close a candidate is to anything the model was trained on.

A screen over millions of molecules will rank wild extrapolations next to sound predictions; the
nearest training neighbour's Tanimoto similarity (Morgan radius 2, 2048 bits, RDKit's bulk C++
routine) tells them apart. Below ``threshold`` (0.3 by default, a common cut-off for Morgan
fingerprints) a molecule is flagged out of domain.
"""

from __future__ import annotations

import json
from pathlib import Path

from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

RADIUS, BITS = 2, 2048
DEFAULT_THRESHOLD = 0.3


def fingerprint_generator():
    return rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=BITS)


def fingerprints(smiles: list[str]) -> list:
    gen = fingerprint_generator()
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol is not None:
            out.append(gen.GetFingerprint(mol))
    return out


def nearest_similarity(fp, reference: list) -> float:
    """Tanimoto similarity of ``fp`` to its nearest neighbour in ``reference`` (0 if empty)."""
    if not reference:
        return 0.0
    return float(max(DataStructs.BulkTanimotoSimilarity(fp, reference)))


def training_smiles(model_dir: str | Path) -> list[str]:
    """The molecules a model was trained on: the train part of its split, plus earlier models'
    training molecules for a model extended by ``add-task`` (``training_smiles.txt``)."""
    model_dir = Path(model_dir)
    smiles: list[str] = []
    split = model_dir / "split.json"
    if split.exists():
        smiles += json.loads(split.read_text()).get("train", [])
    extra = model_dir / "training_smiles.txt"
    if extra.exists():
        smiles += [s for s in extra.read_text().splitlines() if s]
    return list(dict.fromkeys(smiles))
