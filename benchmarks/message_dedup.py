"""Issue 8: how much a screening batch repeats local environments, and what computing the message
passing once per environment saves against Chemprop's encoder forward.

For batches of 1,024 molecules from the synthetic library and from the property suite (diverse
molecules): the share of directed bonds with a distinct t-hop environment, of atoms with a distinct
output environment, and the time of one encoder forward (hidden 300, depth 3, mean aggregation,
one thread, best of 3): Chemprop's ``BondMessagePassing`` + ``MeanAggregation`` vs molgate's
deduplicated path, with the largest difference between the two.

    cd benchmarks && ../.venv/bin/python message_dedup.py [--batches 3]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
from chemprop.data import BatchMolGraph
from rdkit import Chem

from common import suite_dir, write_result
from molgate.featurize.graphs import FeaturizerSettings
from molgate.nn.message_passing.environments import environments
from molgate.nn.dmpnn import MoleculeEncoder
from molgate.screen.library import enumerate_molecules
from screen_throughput import TASKS

BATCH = 1024


def _best(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, smiles: list[str], encoder: MoleculeEncoder, batches: int) -> dict:
    featurizer = FeaturizerSettings().build()
    rows = []
    for b in range(batches):
        part = smiles[b * BATCH:(b + 1) * BATCH]
        bmg = BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in part])
        env = environments(bmg, encoder.message_passing.depth)
        n_edges, n_atoms = bmg.E.shape[0], bmg.V.shape[0]
        with torch.inference_mode():
            chemprop_out = encoder.aggregation(encoder.message_passing(bmg), bmg.batch)
            molgate_out = encoder(bmg)
            t_chemprop = _best(lambda: encoder.aggregation(encoder.message_passing(bmg), bmg.batch))
            t_molgate = _best(lambda: encoder(bmg))
        rows.append({"atoms": n_atoms, "directed_bonds": n_edges,
                     **{f"distinct_bond_env_{t}": c / n_edges for t, c in enumerate(env.bond_counts)},
                     "distinct_atom_env": env.atom_count / n_atoms,
                     "chemprop_ms": 1e3 * t_chemprop, "molgate_ms": 1e3 * t_molgate,
                     "max_abs_diff": float((chemprop_out - molgate_out).abs().max())})
    frame = pd.DataFrame(rows)
    out = frame.mean().to_dict()
    out["max_abs_diff"] = float(frame["max_abs_diff"].max())
    out["speedup"] = out["chemprop_ms"] / out["molgate_ms"]
    print(f"{name:18s} distinct bond environments "
          + " / ".join(f"{100 * out[f'distinct_bond_env_{t}']:.1f}%" for t in range(encoder.message_passing.depth))
          + f", atoms {100 * out['distinct_atom_env']:.1f}%; chemprop {out['chemprop_ms']:.0f} ms, "
          f"molgate {out['molgate_ms']:.0f} ms ({out['speedup']:.1f}x), max |diff| {out['max_abs_diff']:.1e}",
          flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    featurizer = FeaturizerSettings().build()
    encoder = MoleculeEncoder(featurizer.atom_fdim, featurizer.bond_fdim, 300, 3).eval()
    n = args.batches * BATCH
    library = list(enumerate_molecules(n, seed=0))
    suite = pd.read_parquet(suite_dir(TASKS) / "suite.parquet")["smiles"].drop_duplicates()
    suite = suite.sample(min(n, len(suite)), random_state=0).tolist()
    result = {"batch": BATCH, "batches": args.batches, "threads": 1,
              "synthetic_library": measure("synthetic library", library, encoder, args.batches),
              "property_suite": measure("property suite", suite, encoder, min(args.batches, len(suite) // BATCH))}
    write_result("message_dedup", result)


if __name__ == "__main__":
    main()
