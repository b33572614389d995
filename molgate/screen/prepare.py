"""The per-molecule work of a screen that needs no model: parse, canonicalise, featurise, and the
applicability-domain similarity. It runs in worker processes (one chunk per task), so it must be
importable top-level functions with their state set once per process by :func:`init_worker`.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field

import numpy as np
from chemprop.data.molgraph import MolGraph
from rdkit import Chem, RDLogger

from molgate.data.smiles import is_multi_fragment, keep_largest_fragment, smiles_text_problem
from molgate.featurize.graphs import FeaturizerSettings, mol_from_smiles
from molgate.screen.domain import NearestNeighbourIndex, fingerprint_generator, fingerprints
from molgate.screen.reader import LibraryChunk

_STATE: dict = {}


@dataclass
class PreparedChunk:
    index: int
    file: str
    rows: list[int]  # rows (1-based, per file) of the valid molecules
    smiles: list[str]  # as given in the library
    graphs: list[MolGraph]
    similarity: np.ndarray | None  # nearest training neighbour, per valid molecule
    rejects: list[dict] = field(default_factory=list)  # file, row, smiles, reason
    n_read: int = 0
    multi_fragment: int = 0  # valid molecules of several fragments (salts, mixtures)


def init_worker(featurizer: dict, reference_smiles: list[str] | None, largest_fragment: bool = False) -> None:
    """Build the featuriser and the reference fingerprints once per process; ``largest_fragment``
    reduces a multi-fragment molecule to its largest fragment, as training did."""
    RDLogger.DisableLog("rdApp.*")  # invalid SMILES are reported as rejects, not as log noise
    settings = FeaturizerSettings(**featurizer)
    _STATE.update(settings=settings, featurizer=settings.build(),
                  reference=None if reference_smiles is None else NearestNeighbourIndex(fingerprints(reference_smiles)),
                  generator=fingerprint_generator(), largest_fragment=largest_fragment)


def _as_trained(mol: Chem.Mol, smiles: str, settings: FeaturizerSettings) -> Chem.Mol:
    """The molecule as the model saw molecules in training: parsed from canonical SMILES.

    Only a chiral tag (clockwise or not, relative to the atom's neighbour order) depends on the
    order the SMILES was written in; every other feature is the same in any atom order, and the
    D-MPNN does not depend on the order (up to float rounding). Stereo labels come only from ``@``
    (atoms) and ``/`` ``\\`` (double bonds) in the SMILES, so only those molecules are written out
    and parsed again, which saves a third of the per-molecule time.
    """
    if _STEREO.search(smiles):
        return mol_from_smiles(Chem.MolToSmiles(mol), settings)
    return Chem.AddHs(mol) if settings.add_hydrogens else mol


_STEREO = re.compile(r"[@/\\]")
_ISOTOPE = re.compile(r"\[\d")


def is_plain(smiles: str) -> bool:
    """No stereo and no isotope labels in the SMILES, so none on the parsed molecule."""
    return _STEREO.search(smiles) is None and _ISOTOPE.search(smiles) is None


def prepare_chunk(chunk: LibraryChunk) -> PreparedChunk:
    """The chunk's valid molecules as graphs (with their domain similarity), and its rejects.

    Python's cycle collector is paused meanwhile: featurising allocates millions of small
    objects and none of them form cycles, so its passes only cost time (a quarter of it).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _prepare(chunk)
    finally:
        if paused:
            gc.enable()


def _prepare(chunk: LibraryChunk) -> PreparedChunk:
    settings, featurizer = _STATE["settings"], _STATE["featurizer"]
    reference, gen = _STATE["reference"], _STATE["generator"]
    rows, smiles, graphs, sims, rejects = [], [], [], [], []
    multi = 0
    for row, s in zip(chunk.rows, chunk.smiles):
        text = s.strip()
        problem = smiles_text_problem(text) if text else None  # RDKit would read a part of it
        mol = Chem.MolFromSmiles(text) if text and problem is None else None
        if mol is None:
            reason = ("empty SMILES" if not text else f"invalid SMILES ({problem})" if problem
                      else "invalid SMILES (RDKit cannot parse it)")
            rejects.append({"file": chunk.file, "row": row, "smiles": s, "reason": reason})
            continue
        if is_multi_fragment(text, mol):
            multi += 1
            if _STATE["largest_fragment"]:
                mol = keep_largest_fragment(mol)
                text = Chem.MolToSmiles(mol)  # what the graph is of, for the stereo check below
        try:
            graphs.append(featurizer(_as_trained(mol, text, settings), plain=is_plain(text)))
        except Exception as exc:  # noqa: BLE001 - any featuriser failure becomes a reject
            rejects.append({"file": chunk.file, "row": row, "smiles": s, "reason": f"cannot featurise: {exc}"})
            continue
        rows.append(row)
        smiles.append(s)
        if reference is not None:
            sims.append(reference.nearest(gen.GetFingerprint(mol)))  # as the references: no added Hs
    return PreparedChunk(chunk.index, chunk.file, rows, smiles, graphs,
                         np.asarray(sims) if reference is not None else None, rejects, len(chunk.rows),
                         multi)
