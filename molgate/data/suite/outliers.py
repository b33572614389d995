"""Within-source outliers: a value far from the values of its close structural analogues.

Cross-source checks cannot catch a wrong value that only one source reports. Close analogues
(Morgan fingerprint radius 2, 2048 bits, Tanimoto >= 0.8: homologues, positional isomers)
usually have similar properties, so a value many robust standard deviations from its analogues'
median is a candidate error (a salt's melting point, a decomposition temperature, a unit slip).
Only uncorroborated values are tested: when two independent sources agree on a value, a big
difference from the analogues is chemistry (an activity cliff), not a typo.

Radius-2 Morgan bits cannot tell long homologues apart (n-hexane and n-hexadecane have the same
bits), so analogues must also be within MAX_SIZE_DIFF heavy atoms of each other: otherwise a
hexane's cetane number is judged against hexadecane's.

Neighbour search is exact and fast: all pairs with Tanimoto >= t are found by prefix filtering
(Chaudhuri et al., ICDE 2006; Bayardo et al., WWW 2007): if T(A, B) >= t, B holds one of A's
floor((1 - t)|A|) + 1 rarest bits, so only molecules sharing one of those bits are compared.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from .tiers import tolerance

SIMILARITY = 0.8
MIN_NEIGHBOURS = 3
MAX_SIZE_DIFF = 2        # heavy atoms
Z_LIMIT = 5.0
MAD_TO_SD = 1.4826       # MAD of a normal distribution -> its standard deviation
FLOOR_TOLERANCES = 3.0   # the scale is at least 3 corroboration tolerances of the task
FLAG = "outlier_neighbours"


def fingerprints(smiles: list[str]) -> tuple[list, np.ndarray]:
    """Morgan fingerprints (radius 2, 2048 bits) and heavy-atom counts."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    return ([gen.GetFingerprint(m) for m in mols],
            np.array([m.GetNumHeavyAtoms() for m in mols], dtype=np.int64))


def similar_pairs(fps: list, threshold: float = SIMILARITY, sizes: np.ndarray | None = None,
                  max_size_diff: int = MAX_SIZE_DIFF) -> np.ndarray:
    """All pairs (i, j), i < j, with Tanimoto >= threshold (and, given `sizes`, at most
    `max_size_diff` apart in size), as an (n, 2) int array, sorted."""
    bits = [np.array(list(f.GetOnBits()), dtype=np.int64) for f in fps]
    count = np.array([b.size for b in bits])
    if not bits:
        return np.zeros((0, 2), dtype=np.int64)
    flat = np.concatenate(bits) if count.sum() else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(bits)), count)
    freq = np.bincount(flat, minlength=2048)
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(2049))
    owners = owner[order]
    postings = [owners[starts[b]:starts[b + 1]] for b in range(2048)]
    found = []
    for i, b in enumerate(bits):
        if not b.size:
            continue
        prefix = b[np.argsort(freq[b], kind="stable")[:int(np.floor((1 - threshold) * b.size)) + 1]]
        cand = np.unique(np.concatenate([postings[x] for x in prefix]))
        cand = cand[(cand > i) & (count[cand] >= threshold * b.size)
                    & (count[cand] * threshold <= b.size)]
        if sizes is not None:
            cand = cand[np.abs(sizes[cand] - sizes[i]) <= max_size_diff]
        if cand.size:
            sims = np.array(DataStructs.BulkTanimotoSimilarity(fps[i], [fps[j] for j in cand]))
            for j in cand[sims >= threshold - 1e-12]:
                found.append((i, int(j)))
    return np.array(sorted(found), dtype=np.int64).reshape(-1, 2)


def neighbour_stats(long: pd.DataFrame, pairs: np.ndarray, index: dict[str, int]) -> pd.DataFrame:
    """Per (smiles, task): the analogues' median, their robust z-score and the count.

    `pairs` are molecule-index pairs from `similar_pairs` over the molecules in `index`.
    """
    mol = long["smiles"].map(index).to_numpy()
    both = pd.DataFrame(np.vstack([pairs, pairs[:, ::-1]]), columns=["i", "j"])
    parts = []
    for task, grp in long.assign(mol=mol).groupby("task", sort=True):
        val = pd.Series(grp["value"].to_numpy(), index=grp["mol"].to_numpy())
        edges = both[both["i"].isin(val.index) & both["j"].isin(val.index)]
        if edges.empty:
            continue
        xj = val.reindex(edges["j"]).to_numpy()
        e = pd.DataFrame({"i": edges["i"].to_numpy(), "x": xj})
        med = e.groupby("i")["x"].median()
        mad = (e["x"] - med.reindex(e["i"]).to_numpy()).abs().groupby(e["i"].to_numpy()).median()
        n = e.groupby("i").size()
        own = val.reindex(med.index)
        scale = np.maximum(MAD_TO_SD * mad.reindex(med.index).to_numpy(),
                           FLOOR_TOLERANCES * tolerance(pd.Series(task, index=med.index), med))
        inv = {v: k for k, v in index.items()}
        parts.append(pd.DataFrame({
            "smiles": [inv[i] for i in med.index], "task": task,
            "neighbours_median": med.to_numpy(), "n_neighbours": n.reindex(med.index).to_numpy(),
            "robust_z": (own.to_numpy() - med.to_numpy()) / scale}))
    cols = {"smiles": "object", "task": "object", "neighbours_median": "float64",
            "n_neighbours": "int64", "robust_z": "float64"}
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})
    return pd.concat(parts, ignore_index=True).astype(cols)


def neighbour_table(long: pd.DataFrame) -> pd.DataFrame:
    """Neighbour statistics (see neighbour_stats) of every value in `long`."""
    smiles = sorted(long["smiles"].unique())
    index = {s: i for i, s in enumerate(smiles)}
    fps, sizes = fingerprints(smiles)
    return neighbour_stats(long, similar_pairs(fps, SIMILARITY, sizes), index)


def find_outliers(long: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Flags (smiles, task, flag, detail) of the uncorroborated values of `long` (smiles, task,
    value, corroborated) with at least MIN_NEIGHBOURS analogues and |robust z| > Z_LIMIT."""
    tested = stats.merge(long[["smiles", "task", "corroborated"]], on=["smiles", "task"])
    bad = tested[~tested["corroborated"] & (tested["n_neighbours"] >= MIN_NEIGHBOURS)
                 & (tested["robust_z"].abs() > Z_LIMIT)]
    detail = [f"|robust z| > {Z_LIMIT:g} over {n} analogues (Tanimoto >= {SIMILARITY:g}, "
              f"+-{MAX_SIZE_DIFF} heavy atoms): "
              f"z = {z:.1f}, analogues' median {m:.5g}"
              for n, z, m in zip(bad["n_neighbours"], bad["robust_z"], bad["neighbours_median"])]
    return pd.DataFrame({"smiles": bad["smiles"].to_numpy(), "task": bad["task"].to_numpy(),
                         "flag": FLAG, "detail": detail})
