"""How strong is the raw distance term when separate encoders perturb each task's molecule vector
(``perturb_at = "molecule"``) instead of the shared h0 (``"input"``)?

Raw distances grow with what is perturbed, so ``delta`` tuned for one site means something else at
the other. On the alignment trial's training molecules (reference10, scaffold seed 0, cap 500), at
initialisation, for the same weights: the distance term's value and the norm of its gradient on the
encoders (D-MPNNs and encoder MLPs) for each site, averaged over batches, and the ``delta`` that
gives the molecule site the input site's gradient at ``STRONG_ALIGNMENT["delta"]``. Also the time of
one training step of the strong setting at each site.

    python gate_perturb_at_scale.py [--batches 8]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch

from common import RESULTS, machine, reference10_split
from molgate.benchmark.plan import STRONG_ALIGNMENT
from molgate.data.splits import load_split
from molgate.data.table import read_table
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate_losses import GateLossWeights


def site_stats(model: GATEModel, batches) -> dict:
    params = [p for p in model.parameter_groups()["encoders"] if p.requires_grad]
    values, norms, steps = [], [], []
    for batch in batches:
        terms, _ = model.loss_terms(batch)
        grads = torch.autograd.grad(terms["dis"], params, allow_unused=True)
        values.append(float(terms["dis"].detach()))
        norms.append(float(torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None))))
        start = time.perf_counter()
        model.zero_grad()
        loss = model.training_loss(batch)[0]
        loss.backward()
        steps.append(time.perf_counter() - start)
    return {"dis_value": float(np.mean(values)), "dis_grad_norm": float(np.mean(norms)),
            "step_seconds": float(np.median(steps))}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, default=8)
    a = p.parse_args()
    data, split_file, _ = reference10_split("gate_alignment_trial", 0, 500)
    table, _ = read_table(data)
    train = load_split(split_file, table).train[: 64 * a.batches]
    graphs = featurize([table.smiles[i] for i in train], progress=False)
    y = np.nan_to_num(table.y[train])
    batches = list(make_loader(GraphDataset(graphs, y), 64))
    d_v, d_e = feature_dims(FeaturizerSettings())
    weights = GateLossWeights(**STRONG_ALIGNMENT)
    rows = {}
    for site in ("input", "molecule"):
        torch.manual_seed(0)
        gate = GateConfig(sharing="separate", weights=weights, perturb_at=site)
        model = GATEModel(len(table.tasks), d_v, d_e, EncoderConfig(), gate).train()
        torch.manual_seed(1)
        rows[site] = site_stats(model, batches)
    ratio = rows["input"]["dis_grad_norm"] / rows["molecule"]["dis_grad_norm"]
    result = {"sites": rows, "delta_input": STRONG_ALIGNMENT["delta"],
              "delta_molecule_same_gradient": STRONG_ALIGNMENT["delta"] * ratio,
              "batches": len(batches), "machine": machine()}
    print("| site | dis value | dis gradient norm (delta 1) | step s |\n|---|---|---|---|")
    for site, r in rows.items():
        print(f"| {site} | {r['dis_value']:.3g} | {r['dis_grad_norm']:.3g} | {r['step_seconds']:.2f} |")
    print(f"delta for the molecule site with the input site's gradient: {result['delta_molecule_same_gradient']:.3g}")
    (RESULTS / "gate_perturb_at_scale.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
