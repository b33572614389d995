"""How strong is the raw distance term when separate encoders perturb each task's molecule vector
(``perturb_at = "molecule"``) instead of the shared h0 (``"input"``)?

Raw distances grow with what is perturbed, so ``delta`` tuned for one site means something else at
the other. On the alignment trial's training molecules (reference10, scaffold seed 0, cap 500), at
initialisation, for the same weights: the distance term's value and the norm of its gradient on the
encoders (D-MPNNs and encoder MLPs) for each site, averaged over batches, and the ``delta`` that
gives the molecule site the input site's gradient at ``STRONG_ALIGNMENT["delta"]``. Also the median
time of one training step (forward and backward) of the strong setting at each site, and of the
same model without alignment, with the deduplicated message passing on and off
(``MOLGATE_DEDUP_TRAINING``; the input site perturbs h0 per bond, so it cannot use it).

    python gate_perturb_at_scale.py [--batches 8]
"""

from __future__ import annotations

import argparse
import json
import os
import time

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
from molgate.nn.message_passing.training import DEDUP_TRAINING_ENV


def site_stats(model: GATEModel, batches) -> dict:
    params = [p for p in model.parameter_groups()["encoders"] if p.requires_grad]
    values, norms = [], []
    for batch in batches:
        terms, _ = model.loss_terms(batch)
        grads = torch.autograd.grad(terms["dis"], params, allow_unused=True)
        values.append(float(terms["dis"].detach()))
        norms.append(float(torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None))))
    return {"dis_value": float(np.mean(values)), "dis_grad_norm": float(np.mean(norms))}


def step_seconds(model: GATEModel, batches, dedup: bool) -> float:
    os.environ[DEDUP_TRAINING_ENV] = "1" if dedup else "0"
    steps = []
    for batch in batches:
        start = time.perf_counter()
        model.zero_grad()
        model.training_loss(batch)[0].backward()
        steps.append(time.perf_counter() - start)
    os.environ.pop(DEDUP_TRAINING_ENV)
    return float(np.median(steps))


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
    rows, times = {}, {}
    settings = {"strong, input": ("input", weights), "strong, molecule": ("molecule", weights),
                "no alignment": ("input", GateLossWeights(use_auto=False, use_cons=False, use_map=False,
                                                          use_dis=False))}
    for name, (site, w) in settings.items():
        torch.manual_seed(0)
        gate = GateConfig(sharing="separate", weights=w, perturb_at=site)
        model = GATEModel(len(table.tasks), d_v, d_e, EncoderConfig(), gate).train()
        torch.manual_seed(1)
        if name.startswith("strong"):
            rows[site] = site_stats(model, batches)
        times[name] = {f"dedup {flag}": step_seconds(model, batches, flag == "on") for flag in ("off", "on")}
    ratio = rows["input"]["dis_grad_norm"] / rows["molecule"]["dis_grad_norm"]
    result = {"sites": rows, "step_seconds": times, "delta_input": STRONG_ALIGNMENT["delta"],
              "delta_molecule_same_gradient": STRONG_ALIGNMENT["delta"] * ratio,
              "batches": len(batches), "machine": machine()}
    print("| site | dis value | dis gradient norm (delta 1) |\n|---|---|---|")
    for site, r in rows.items():
        print(f"| {site} | {r['dis_value']:.3g} | {r['dis_grad_norm']:.3g} |")
    print("\n| separate GATE, K = 10 | step s, dedup off | step s, dedup on |\n|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {t['dedup off']:.2f} | {t['dedup on']:.2f} |")
    print(f"delta for the molecule site with the input site's gradient: {result['delta_molecule_same_gradient']:.3g}")
    (RESULTS / "gate_perturb_at_scale.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
