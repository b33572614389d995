"""``molgate add-task``: a new property onto a trained GATE model, the old tasks left unchanged."""

from __future__ import annotations

import argparse

from molgate.cli import lazy
from molgate.cli.options import (count, non_negative_float, overwrite_option, split_sizes_option,
                                 training_options)
from molgate.cli.output import print_metrics


def cmd_add_task(a: argparse.Namespace) -> int:
    api = lazy.api()
    result = api.add_task(a.model, a.data, a.target, a.out, smiles_column=a.smiles_column, split=a.split,
                          seed=a.seed, split_file=a.split_file, split_sizes=tuple(a.split_sizes),
                          on_invalid=a.on_invalid, init_encoder=a.init_encoder,
                          cache_frozen=not a.no_cache_frozen, epochs=a.epochs, batch_size=a.batch_size,
                          patience=a.patience, warmup_epochs=a.warmup_epochs, init_lr=a.init_lr,
                          max_lr=a.max_lr, final_lr=a.final_lr, accelerator=a.accelerator,
                          progress=not a.no_progress, cache=not a.no_cache, cache_dir=a.cache_dir,
                          overwrite=a.overwrite, perturbations=a.perturbations,
                          map_sources=None if a.map_sources == 0 else a.map_sources,
                          perturb_molecules=a.perturb_molecules or None, train_trunk=not a.freeze_trunk,
                          source_weights=a.source_weights, alignment=alignment_overrides(a),
                          align_molecules=a.align_molecules or None, latent_size=a.latent_size or None,
                          transfer_layers=a.transfer_layers, alignment_defaults=a.alignment_defaults)
    print(f"task '{a.target}' added: model saved to {result.model_dir} ({result.seconds:.1f} s "
          f"training, {result.cache_seconds:.1f} s caching the frozen model); {a.model} is unchanged")
    if a.evaluate:
        print_metrics(api.evaluate(result.model_dir), result.model_dir)
    return 0


def alignment_overrides(a: argparse.Namespace) -> dict:
    """The loss settings given on the command line (the rest stay those of ``--alignment-defaults``)."""
    given = {"alpha": a.alpha, "beta": a.beta, "gamma": a.gamma, "delta": a.delta, "form": a.alignment_form}
    return {k: v for k, v in given.items() if v is not None}


def register(sub) -> None:
    """Add the ``add-task`` sub-command to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("add-task", help="add a new task to a trained GATE model without retraining it")
    p.add_argument("--model", required=True, help="the pre-trained GATE model directory (left unchanged)")
    p.add_argument("--data", required=True, help="CSV/Parquet with a SMILES column and the new task")
    p.add_argument("--target", required=True, help="the new task's column (must not be in the model)")
    p.add_argument("--out", required=True, help="the extended model directory (old tasks + the new one)")
    overwrite_option(p)
    p.add_argument("--smiles-column", default="smiles")
    p.add_argument("--split", choices=["random", "scaffold"], default="scaffold")
    p.add_argument("--split-file", default=None, help="reuse a saved split (molgate split file)")
    split_sizes_option(p)
    p.add_argument("--seed", type=count, default=0)
    p.add_argument("--on-invalid", choices=["error", "skip"], default="error",
                   help="skip: continue and write rejected rows to OUT.rejects.csv")
    p.add_argument("--init-encoder", choices=["pretrained", "random", "related"], default="pretrained",
                   help="start the new task's encoder from the pre-trained trunk or from scratch; related "
                        "[ours]: the trunk, and its MLPs from the frozen task that predicts the new labels best")
    p.add_argument("--no-cache-frozen", action="store_true",
                   help="recompute the frozen model's embeddings every batch instead of once")
    p.add_argument("--perturbations", choices=["bank", "per_step"], default="bank",
                   help="bank: fixed perturbation draws per molecule, so the frozen tasks' views are "
                        "computed once; per_step: new draws every step (each view recomputed)")
    p.add_argument("--map-sources", type=count, default=1,
                   help="[ours] frozen sources drawn per step for the mapping term (unbiased; 0: all)")
    p.add_argument("--perturb-molecules", type=count, default=16,
                   help="[ours] molecules per batch with perturbed copies for the distance term (0: all)")
    p.add_argument("--align-molecules", type=count, default=0,
                   help="[ours] molecules per batch on which the auto-encoding and pair terms are "
                        "estimated (cheaper; at least --perturb-molecules with a distance term; 0: all)")
    p.add_argument("--latent-size", type=count, default=0,
                   help="[ours] the new task's own latent width (0: the pre-trained model's; narrower is cheaper)")
    p.add_argument("--transfer-layers", type=count, default=None,
                   help="[ours] hidden layers of the new task's Transfer and Inverse (default: the pre-trained "
                        "model's; 0: affine, cheaper)")
    p.add_argument("--source-weights", choices=["uniform", "correlation"], default="uniform",
                   help="[ours] correlation: weight each frozen source by how its prediction correlates with the new labels")
    g = p.add_argument_group("the new task's alignment terms (each replaces one of --alignment-defaults)")
    g.add_argument("--alignment-defaults", choices=["addition", "model"], default="addition",
                   help="[ours] addition (default): raw form, alpha = gamma = 1, beta = 100, delta = 0, chosen "
                        "on the task-addition benchmark; model: the pre-trained model's own settings")
    for name, term in (("alpha", "auto-encoding"), ("beta", "consistency"), ("gamma", "mapping"), ("delta", "distance")):
        g.add_argument(f"--{name}", type=non_negative_float, default=None, help=f"weight of the {term} loss")
    g.add_argument("--alignment-form", choices=["scale_free", "raw"], default=None,
                   help="scale_free: terms divided by the spread of what they compare; raw: plain MSEs")
    p.add_argument("--freeze-trunk", action="store_true",
                   help="[ours] keep the new task's copy of the trunk at the pre-trained weights (cheaper)")
    p.add_argument("--evaluate", action="store_true", help="evaluate every task afterwards")
    training_options(p)
    p.set_defaults(func=cmd_add_task)


__all__ = ["alignment_overrides", "cmd_add_task", "register"]
