"""Applicability domain: how close a candidate is to anything the model was trained on.

A screen over millions of molecules will rank wild extrapolations next to sound predictions; the
nearest training neighbour's Tanimoto similarity (Morgan radius 2, 2048 bits, RDKit's bulk C++
search, :class:`NearestNeighbourIndex`) tells them apart. Below ``threshold`` (0.3 by default, a common cut-off for Morgan
fingerprints) a molecule is flagged out of domain.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from molgate.errors import InputError

logger = logging.getLogger("molgate")

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


class NearestNeighbourIndex:
    """Exact nearest-neighbour Tanimoto search against a fixed reference set, ~25x faster than
    RDKit's ``BulkTanimotoSimilarity`` over the same set.

    An inverted index: one row per fingerprint bit, holding which references set it. The bits a
    query shares with every reference are the sum of the rows of the query's on-bits (a few dozen
    rows of bytes, vectorised), so no reference is compared bit by bit. Same value as
    :func:`nearest_similarity`, to the last bit (tested).
    """

    def __init__(self, reference: list):
        self.size = len(reference)
        self.refs_with_bit = np.zeros((BITS, self.size), dtype=np.uint8)
        for j, fp in enumerate(reference):
            self.refs_with_bit[list(fp.GetOnBits()), j] = 1
        self.ref_counts = self.refs_with_bit.sum(axis=0, dtype=np.int64).astype(np.float32)

    def nearest(self, fp) -> float:
        """Tanimoto similarity of ``fp`` to its nearest reference (0 if none, as RDKit's for an
        empty fingerprint)."""
        on = list(fp.GetOnBits())
        if not self.size or not on:
            return 0.0
        a = len(on)
        common = self.refs_with_bit[on].sum(axis=0, dtype=np.uint8 if a < 256 else np.uint16)
        common = common.astype(np.float32)
        j = int(np.argmax(common / (a + self.ref_counts - common)))  # the denominator is >= a > 0
        # float32 picks the neighbour (distinct ratios of small integers differ far above its
        # precision); the value is computed in double, as RDKit does
        return float(common[j]) / (a + float(self.ref_counts[j]) - float(common[j]))


def training_smiles(model_dir: str | Path) -> list[str]:
    """The molecules a model was trained on: the train part of its split, plus earlier models'
    training molecules for a model extended by ``add-task`` (``training_smiles.txt``)."""
    model_dir = Path(model_dir)
    smiles: list[str] = []
    split = model_dir / "split.json"
    if split.exists():
        try:
            train = json.loads(split.read_text()).get("train", [])
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise InputError(f"cannot read the model's split (for the applicability domain): {exc}",
                             file=str(split)) from None
        if not isinstance(train, list) or not all(isinstance(s, str) for s in train):
            raise InputError("the split's 'train' part is not a list of SMILES", file=str(split))
        smiles += train
    extra = model_dir / "training_smiles.txt"
    if extra.exists():
        smiles += [s for s in extra.read_text().splitlines() if s]
    return list(dict.fromkeys(smiles))


def reference_smiles(model_dirs: list[str]) -> list[str]:
    """The training molecules of every model (an ensemble's too), the domain's reference."""
    reference = sorted({s for d in model_dirs for s in training_smiles(d)})
    if not reference:
        logger.warning("no training molecules found beside the model(s): nn_similarity is 0")
    return reference
