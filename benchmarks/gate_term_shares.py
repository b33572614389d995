"""How much of the gradient each GATE loss term carries, at given settings (issue: alignment must act).

Trains GATE on the main job's data (reference10, scaffold seed 0, cap 1500 per task) for a few
epochs per variant and reads the per-epoch term diagnostics back from ``logs/metrics.csv``: each
term's value and its gradient norm on the encoders relative to the regression's.

    python gate_term_shares.py --epochs 3 --variants trunk separate-batch
Writes ``results/gate_term_shares.{json,md}`` (merged with earlier variants: resumable).
"""

from __future__ import annotations

import argparse
import json
import time

from common import RESULTS, reference10_split  # noqa: F401

from molgate import api
from molgate.evaluate.training_plots import epoch_diagnostics
from molgate.methods import GateConfig
from molgate.methods.gate_losses import GateLossWeights

VARIANTS = {
    "trunk": dict(sharing="trunk"),
    "trunk-raw": dict(sharing="trunk", form="raw"),
    "separate": dict(sharing="separate"),
    "separate-batch": dict(sharing="separate", distance_form="batch"),
    "separate-raw": dict(sharing="separate", form="raw"),
}


def gate_config(spec: dict, weights: dict) -> GateConfig:
    spec = dict(spec)
    w = GateLossWeights(form=spec.pop("form", "scale_free"), distance_form=spec.pop("distance_form", "perturbation"),
                        **weights)
    return GateConfig(weights=w, **spec)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--weights", default="{}", help='JSON, e.g. {"beta": 3}')
    p.add_argument("--tag", default="")
    a = p.parse_args()
    data, split_file, work = reference10_split("gate_term_shares")
    out_json = RESULTS / "gate_term_shares.json"
    results = json.loads(out_json.read_text()) if out_json.exists() else {}
    weights = json.loads(a.weights)
    for name in a.variants:
        key = f"{name}{a.tag}"
        if key in results and results[key]["epochs"] >= a.epochs:
            continue
        start = time.perf_counter()
        r = api.train(data, method="gate", split_file=split_file, out=work / key, epochs=a.epochs,
                      patience=a.epochs, progress=False, gate=gate_config(VARIANTS[name], weights))
        diag = epoch_diagnostics(work / key / "logs" / "metrics.csv")
        results[key] = {"variant": VARIANTS[name], "weights": weights, "epochs": a.epochs,
                        "seconds": time.perf_counter() - start, "train_seconds": r.seconds,
                        "best_val_loss": r.fit["all"]["best_val_loss"],
                        "per_epoch": diag.reset_index().to_dict(orient="list")}
        out_json.write_text(json.dumps(results, indent=1))
        print(key, f"{r.seconds:.0f} s")
    lines = ["| variant | epoch | reg | auto share | cons share | map share | dis share | s/epoch |",
             "|---|---|---|---|---|---|---|---|"]
    for key, res in results.items():
        d = res["per_epoch"]
        for i, epoch in enumerate(d["epoch"]):
            share = lambda t: f"{d[f'diag_{t}_share'][i]:.3g}" if f"diag_{t}_share" in d else "-"  # noqa: E731
            lines.append(f"| {key} | {int(epoch) + 1} | {d['diag_reg_value'][i]:.3g} | {share('auto')} | "
                         f"{share('cons')} | {share('map')} | {share('dis')} | {res['train_seconds'] / res['epochs']:.0f} |")
    (RESULTS / "gate_term_shares.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
