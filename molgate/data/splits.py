"""Train / validation / test splits over molecules, balanced per task, saved for reuse.

One split serves every task: a molecule is in exactly one of train, val and test, so no test
molecule is in any task's training set. Molecules are first grouped (``random``: each molecule is
its own group; ``scaffold``: Bemis-Murcko scaffold), then groups are assigned to splits:

1. groups larger than half the test set go to train (Chemprop's *balanced* scaffold rule: large,
   common scaffolds are learnt from, never tested on);
2. the other groups, from large to small (by powers of two of their size; in a seeded random order
   within one size class, so the small groups at the end can even out what the large ones left),
   each go to the split where they most reduce the
   squared relative shortfall ``sum_{s,k} ((n[s,k] - T[s,k]) / T[s,k])^2``. Here ``n[s,k]`` counts
   the labels of task k in split s, ``T[s,k] = size_s * total_k`` is its target, and the molecule
   count is balanced as one more "task". Dividing by ``T`` makes a small task as important as a
   large one, so every task gets close to its share of validation and test molecules.

Acyclic molecules all have the empty Murcko scaffold (about 43% of the property suite). Putting that
one group in train would leave validation and test with ring molecules only, so an acyclic molecule
is keyed by its *generic carbon skeleton* instead (every heavy atom C, every bond single: hexan-1-ol
and hexan-1-amine share the key ``acyclic:CCCCCCC``), which spreads acyclics over all three parts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from molgate.data.table import MoleculeTable, canonicalize
from molgate.errors import InputError

logger = logging.getLogger("molgate")

SPLIT_TYPES = ("random", "scaffold")
SPLIT_NAMES = ("train", "val", "test")


@dataclass
class Split:
    """Indices into a :class:`MoleculeTable` for train, val and test."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    kind: str = "random"
    seed: int = 0
    sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}


def scaffold_key(smiles: str) -> str:
    """Bemis-Murcko scaffold; for acyclic molecules the generic carbon skeleton, prefixed."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES '{smiles}'")
    scaffold = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
    if scaffold:
        return scaffold
    return "acyclic:" + generic_skeleton(mol)


def generic_skeleton(mol: Chem.Mol) -> str:
    """Canonical SMILES of the heavy-atom graph with every atom C and every bond single.

    Written out here rather than with RDKit's ``MakeScaffoldGeneric``, which sanitises the result
    and fails on hypervalent atoms (a phosphate P or a sulfone S becomes a carbon with 5 or 6 bonds).
    """
    skeleton = Chem.RWMol(Chem.RemoveHs(mol))
    for atom in skeleton.GetAtoms():
        atom.SetAtomicNum(6)
        atom.SetFormalCharge(0)
        atom.SetIsAromatic(False)
        atom.SetNumExplicitHs(0)
        atom.SetNoImplicit(True)
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for bond in skeleton.GetBonds():
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
        bond.SetStereo(Chem.BondStereo.STEREONONE)
    skeleton.UpdatePropertyCache(strict=False)
    return Chem.MolToSmiles(skeleton)


def group_keys(smiles: list[str], kind: str) -> list[str]:
    if kind == "random":
        return list(smiles)
    if kind == "scaffold":
        return [scaffold_key(s) for s in smiles]
    raise ValueError(f"split type must be one of {SPLIT_TYPES}, got {kind!r}")


def _check_sizes(sizes) -> tuple[float, float, float]:
    sizes = tuple(float(s) for s in sizes)
    if len(sizes) != 3 or min(sizes) < 0 or abs(sum(sizes) - 1.0) > 1e-6 or sizes[0] == 0:
        raise ValueError(f"split sizes must be three non-negative fractions summing to 1 with a "
                         f"non-empty train part, got {sizes}")
    return sizes


def balanced_group_split(keys: list[str], mask: np.ndarray, sizes=(0.8, 0.1, 0.1), seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign groups of molecules to train/val/test so each task gets close to its share."""
    sizes = _check_sizes(sizes)
    n = len(keys)
    codes, uniques = pd.factorize(pd.Series(keys), sort=True)
    n_groups = len(uniques)
    # per-group counts: every task's labels plus the molecule count as a last column
    weights = np.concatenate([mask.astype(np.float64), np.ones((n, 1))], axis=1)
    counts = np.zeros((n_groups, weights.shape[1]))
    np.add.at(counts, codes, weights)
    target = np.outer(sizes, counts.sum(0))  # [3, K+1]
    scale = np.maximum(target, 1.0) ** 2
    current = np.zeros_like(target)
    assignment = np.empty(n_groups, dtype=int)

    big = counts[:, -1] > sizes[2] * n / 2
    rng = np.random.default_rng(seed)
    for g in np.flatnonzero(big):
        assignment[g] = 0
        current[0] += counts[g]
    rest = np.flatnonzero(~big)
    size_class = np.floor(np.log2(counts[rest, -1]))
    for g in rest[np.lexsort((rng.random(len(rest)), -size_class))]:
        c = counts[g]
        delta = ((2 * (current - target) + c) * c / scale).sum(1)
        delta[np.asarray(sizes) == 0] = np.inf
        s = int(np.argmin(delta))
        assignment[g] = s
        current[s] += c
    per_molecule = assignment[codes]
    return tuple(np.flatnonzero(per_molecule == s) for s in range(3))  # type: ignore[return-value]


def make_split(table: MoleculeTable, kind: str = "scaffold", seed: int = 0,
               sizes=(0.8, 0.1, 0.1)) -> Split:
    """Split a table's molecules; the same call always gives the same split."""
    keys = group_keys(table.smiles, kind)
    train, val, test = balanced_group_split(keys, table.mask, sizes, seed)
    return Split(train, val, test, kind, seed, _check_sizes(sizes))


def cap_train_per_task(table: MoleculeTable, split: Split, max_per_task: int | None,
                       seed: int = 0) -> Split:
    """Keep at most ``max_per_task`` training labels per task, sampled from train only.

    Validation and test stay whole. A training molecule survives if any of its tasks sampled it,
    so a task may keep a few more labels than the cap; the dropped molecules are saved as
    ``excluded`` in the split file, never lost without a trace.
    """
    if not max_per_task:
        return split
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(table), dtype=bool)
    mask = table.mask
    for k in range(len(table.tasks)):
        labelled = split.train[mask[split.train, k]]
        if len(labelled) > max_per_task:
            labelled = rng.choice(labelled, max_per_task, replace=False)
        keep[labelled] = True
    return Split(np.sort(np.flatnonzero(keep)), split.val, split.test, split.kind, split.seed,
                 split.sizes)


def split_counts(table: MoleculeTable, split: Split) -> pd.DataFrame:
    """Labelled molecules per task in each part, plus the molecule totals."""
    rows = {}
    mask = table.mask
    for name, idx in split.parts().items():
        rows[name] = list(mask[idx].sum(0)) + [len(idx)]
    frame = pd.DataFrame(rows, index=table.tasks + ["(molecules)"]).astype(int)
    total = frame.sum(1).replace(0, 1)
    for name in SPLIT_NAMES:
        frame[f"{name}_%"] = (100.0 * frame[name] / total).round(1)
    return frame


def save_split(split: Split, table: MoleculeTable, path: str | Path) -> Path:
    """JSON with the SMILES and indices of each part, the settings and per-task counts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = split_counts(table, split)
    payload = {
        "format": "molgate-split-v1",
        "kind": split.kind,
        "seed": split.seed,
        "sizes": list(split.sizes),
        "source": table.source,
        "counts": {t: {p: int(counts.loc[t, p]) for p in SPLIT_NAMES} for t in counts.index},
        **{p: [table.smiles[i] for i in idx] for p, idx in split.parts().items()},
        "excluded": [table.smiles[i] for i in _excluded(split, len(table))],
        "indices": {p: [int(i) for i in idx] for p, idx in split.parts().items()},
    }
    path.write_text(json.dumps(payload, indent=1))
    return path


def _excluded(split: Split, n: int) -> np.ndarray:
    assigned = np.zeros(n, dtype=bool)
    for idx in split.parts().values():
        assigned[idx] = True
    return np.flatnonzero(~assigned)


def load_split(path: str | Path, table: MoleculeTable) -> Split:
    """Map a saved split onto a table by canonical SMILES, after checking the file.

    The file needs ``train``, ``val`` and ``test`` lists of SMILES, and no molecule may be in two
    parts (that would leak test molecules into training). Every molecule of the table must be in
    a part or listed as ``excluded`` (e.g. by a training-size cap). Molecules of the split that
    the table lacks are ignored with a warning: a split made once for all tasks is reused for one
    task, whose table holds only that task's labelled molecules.
    """
    path = Path(path)
    file = str(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read split file: {exc}", file=file) from None
    if not isinstance(payload, dict) or payload.get("format") != "molgate-split-v1":
        raise InputError("not a molgate split file (format molgate-split-v1)", file=file)
    names = {p: _split_part(payload, p, file) for p in (*SPLIT_NAMES, "excluded")}
    owner: dict[str, str] = {}
    for p in SPLIT_NAMES:
        for s in names[p]:
            if owner.setdefault(s, p) != p:
                raise InputError(f"molecule '{s}' is in both the {owner[s]} and the {p} part; the parts "
                                 "must not overlap (test molecules would leak into training)", file=file)
    where = {s: i for i, s in enumerate(table.smiles)}
    parts, unknown = {}, []
    seen = np.zeros(len(table), dtype=bool)
    for p in (*SPLIT_NAMES, "excluded"):
        idx = []
        for s in names[p]:
            i = where.get(s)
            if i is None:
                can = canonicalize(s)  # a hand-written file may hold non-canonical SMILES
                i = where.get(can) if can is not None else None
            if i is None:
                unknown.append(s)
            else:
                idx.append(i)
        idx = np.array(idx, dtype=int)
        if p != "excluded" and len(idx) and seen[idx].any():
            first = table.smiles[int(idx[seen[idx]][0])]
            raise InputError(f"molecule '{first}' appears twice in the split (as written and in another "
                             "spelling); the parts must not overlap", file=file)
        seen[idx] = True
        parts[p] = np.sort(idx)
    if not seen.all():
        first = table.smiles[int(np.flatnonzero(~seen)[0])]
        raise InputError(f"{int((~seen).sum())} molecule(s) of {table.source} are in no part of the "
                         f"split (first: {first}); make a new split for this data", file=file)
    if unknown:
        logger.warning("%s: %d molecule(s) of the split are not among the rows used from %s (absent, or "
                       "without a label of the selected targets) and are ignored (first: %s)",
                       file, len(unknown), table.source, unknown[0])
    sizes = payload.get("sizes", (0.8, 0.1, 0.1))
    return Split(parts["train"], parts["val"], parts["test"], str(payload.get("kind", "random")),
                 int(payload.get("seed", 0)) if isinstance(payload.get("seed", 0), int) else 0,
                 tuple(sizes) if isinstance(sizes, list) and len(sizes) == 3 else (0.8, 0.1, 0.1))


def _split_part(payload: dict, part: str, file: str) -> list[str]:
    value = payload.get(part, [] if part == "excluded" else None)
    if value is None:
        raise InputError(f"the split file has no '{part}' part (it needs train, val and test lists "
                         "of SMILES)", file=file)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise InputError(f"the split file's '{part}' part is not a list of SMILES", file=file)
    return value


def write_chemprop_splits(split: Split, path: str | Path) -> Path:
    """The same split as Chemprop's ``--splits-file`` (indices into the table's rows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{p: [int(i) for i in idx] for p, idx in split.parts().items()}]))
    return path
