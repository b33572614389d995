"""``molgate``: argument parsing only; each command calls one function of :mod:`molgate.api`."""

from __future__ import annotations

import argparse
import logging
import sys

from molgate import __version__
from molgate.cli import lazy
from molgate.cli.data import add_data_commands
from molgate.cli.library import add_library_commands
from molgate.cli.add_task import register as add_add_task_command
from molgate.cli.export import register as add_export_command
from molgate.cli.output import print_metrics
from molgate.cli.pretrain import register as add_pretrain_command
from molgate.cli.options import (count, float_in, fragment_option, non_negative_float, overwrite_option,
                                 positive_float, positive_int, probability, split_sizes_option, training_options,
                                 unit_interval)
from molgate.errors import MolgateError
from molgate.outputs import is_global_zero

#: :data:`molgate.nn.pooling.AGGREGATIONS`, spelt out so that parsing needs no torch (a test keeps them equal)
AGGREGATION_NAMES = ["mean", "sum", "norm", "mean+norm"]


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (Chemprop's defaults)")
    g.add_argument("--hidden-size", type=positive_int, default=300, help="D-MPNN hidden size")
    g.add_argument("--depth", type=positive_int, default=3, help="message-passing steps")
    g.add_argument("--dropout", type=probability, default=0.0)
    g.add_argument("--aggregation", choices=AGGREGATION_NAMES, default="mean",
                   help="atoms -> molecule (mean+norm: both side by side, ours)")
    g.add_argument("--ffn-hidden-size", type=positive_int, default=300, help="head hidden size")
    g.add_argument("--ffn-layers", type=count, default=1, help="hidden layers per head")
    g.add_argument("--atom-featurizer", choices=["v1", "v2", "organic"], default="v2",
                   help="Chemprop's multi-hot atom featuriser mode")
    t = training_options(p)
    t.add_argument("--devices", type=positive_int, default=1,
                   help="processes/GPUs per node; above 1 trains with Lightning's DDP")
    t.add_argument("--num-nodes", type=positive_int, default=1,
                   help="nodes for DDP (start the same command on each with NODE_RANK, MASTER_ADDR)")
    t.add_argument("--reduction", choices=["pooled", "per-task"], default=None,
                   help="regression loss over tasks, for training, validation and checkpoint "
                        "selection: pooled (every label weighs the same) or per-task (every task "
                        "weighs the same); default: pooled for stl/mtl, per-task for GATE")


def _add_gate_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("GATE (method gate / gate-pair)")
    g.add_argument("--target", default=None, help="gate-pair: the target task")
    g.add_argument("--source", default=None, help="gate-pair: the source task")
    g.add_argument("--sharing", choices=["trunk", "separate"], default="trunk",
                   help="trunk: shared D-MPNN + per-task MLP encoders; separate: a D-MPNN per task")
    g.add_argument("--latent-size", type=positive_int, default=300, help="d_z of each task's latent space")
    g.add_argument("--lf-size", type=positive_int, default=300, help="d_lf of the shared locally flat frame")
    g.add_argument("--task-hidden-size", type=positive_int, default=None,
                   help="separate: width of each task's D-MPNN (default --hidden-size)")
    g.add_argument("--encoder-layers", type=count, default=1, help="hidden layers of the encoder MLPs")
    g.add_argument("--transfer-layers", type=count, default=1, help="hidden layers of Transfer/Inverse")
    g.add_argument("--alpha", type=non_negative_float, default=0.03, help="weight of the auto-encoding loss")
    g.add_argument("--beta", type=non_negative_float, default=0.03, help="weight of the consistency loss")
    g.add_argument("--gamma", type=non_negative_float, default=0.03, help="weight of the mapping loss")
    g.add_argument("--delta", type=non_negative_float, default=0.03, help="weight of the distance loss")
    g.add_argument("--perturb-scale", type=non_negative_float, default=0.05, help="sigma of the perturbations")
    g.add_argument("--perturb-count", type=positive_int, default=4, help="perturbations per molecule (M)")
    g.add_argument("--perturb-molecules", type=positive_int, default=None,
                   help="[ours] perturb only this many molecules of each batch (trunk, or separate "
                        "with --perturb-at molecule; default: all)")
    g.add_argument("--perturb-at", choices=["input", "molecule"], default="input",
                   help="separate: perturb the shared h0 (M more message passings per task) or [ours] "
                        "each task's molecule vector (M more encoder-MLP passes only)")
    g.add_argument("--pair-reduction", choices=["target_mean", "sum", "pair_mean"],
                   default="target_mean", help="how pair terms are normalised over task pairs")
    g.add_argument("--alignment-form", choices=["scale_free", "raw"], default="scale_free",
                   help="scale_free: auto/cons/dis divided by the spread of what they compare; "
                        "raw: the plain MSEs of earlier versions")
    g.add_argument("--distance-form", choices=["perturbation", "batch"], default="perturbation",
                   help="distance loss over perturbed copies (M extra passes) or over the pairs of "
                        "molecules in the batch (no extra pass)")
    g.add_argument("--map-sources", type=positive_int, default=None,
                   help="[ours] mapping term from this many sources per target, drawn each step "
                        "(unbiased, cheaper at many tasks); default: every source")
    for loss in ("auto", "cons", "map", "dis"):
        g.add_argument(f"--no-{loss}", action="store_true", help=f"ablation: switch off l_{loss}")
    r = p.add_argument_group("transfer ratios lambda[source, target] (GATE)")
    r.add_argument("--transfer-ratios", choices=["uniform", "learned", "grid", "fixed"], default="uniform",
                   help="uniform: all 1; learned: bi-level on the validation split; grid: search the "
                        "symmetric ratios of 2-4 tasks; fixed: from --ratios-file")
    r.add_argument("--ratios-file", default=None, help="JSON {source: {target: value}} (fixed)")
    r.add_argument("--grid-values", nargs="+", type=non_negative_float, default=[0.0, 1.0, 3.0])
    r.add_argument("--outer-lr", type=positive_float, default=0.05, help="learning rate of the ratios")
    r.add_argument("--ratio-interval", type=positive_int, default=10, help="training steps per ratio update")
    r.add_argument("--ratio-parameterization", choices=["softplus", "sigmoid", "softmax"], default="softplus",
                   help="softmax: each target's sources share one learned budget (they compete)")
    r.add_argument("--ratio-max", type=positive_float, default=2.0,
                   help="ceiling of every ratio with --ratio-parameterization sigmoid")
    r.add_argument("--ratio-preconditioner", choices=["adam", "sgd"], default="adam",
                   help="the inner step the one-step unrolling follows")
    r.add_argument("--ratio-val-batches", type=positive_int, default=4,
                   help="validation batches averaged per ratio update")
    r.add_argument("--ratio-val-fraction", type=float_in(0.0, 1.0, low_open=True, high_open=True), default=0.5,
                   help="share of the validation split that drives the ratios (the rest selects)")
    r.add_argument("--hypergradient", choices=["jvp", "finite-difference"], default="jvp")


def _gate_config(a: argparse.Namespace):
    api = lazy.api()
    weights = api.GateLossWeights(a.alpha, a.beta, a.gamma, a.delta, not a.no_auto, not a.no_cons,
                              not a.no_map, not a.no_dis, a.pair_reduction, a.alignment_form,
                              a.distance_form, map_sources=a.map_sources)
    return api.GateConfig(a.sharing, a.latent_size, a.lf_size, a.encoder_layers, a.transfer_layers,
                          a.perturb_scale, a.perturb_count, weights, a.task_hidden_size, a.perturb_molecules,
                          a.perturb_at)


def _model_params(a: argparse.Namespace) -> dict:
    return dict(hidden_size=a.hidden_size, depth=a.depth, dropout=a.dropout,
                aggregation=a.aggregation, ffn_hidden_size=a.ffn_hidden_size,
                ffn_layers=a.ffn_layers, epochs=a.epochs, batch_size=a.batch_size,
                patience=a.patience, warmup_epochs=a.warmup_epochs, init_lr=a.init_lr,
                max_lr=a.max_lr, final_lr=a.final_lr, atom_featurizer=a.atom_featurizer,
                accelerator=a.accelerator, cache=not a.no_cache, cache_dir=a.cache_dir,
                progress=not a.no_progress, gate=_gate_config(a), devices=a.devices,
                num_nodes=a.num_nodes, reduction=a.reduction)


def _ratio_options(a: argparse.Namespace) -> dict:
    return dict(transfer_ratios=a.transfer_ratios, ratios_file=a.ratios_file,
                grid_values=tuple(a.grid_values),
                ratio_settings=lazy.api().RatioSettings(
                    a.ratio_parameterization, a.outer_lr, a.ratio_interval, a.hypergradient,
                    max_ratio=a.ratio_max, preconditioner=a.ratio_preconditioner,
                    val_batches=a.ratio_val_batches, val_fraction=a.ratio_val_fraction))


def cmd_train(a: argparse.Namespace) -> int:
    api = lazy.api()
    if a.method == "gate-pair":
        if not (a.target and a.source) or a.target == a.source:
            raise MolgateError("--method gate-pair needs --target T and --source S (two different tasks)")
        a.targets = [a.target, a.source]
    elif a.target or a.source:
        raise MolgateError("--target/--source belong to --method gate-pair; use --targets otherwise")
    result = api.train(a.data, a.targets, a.smiles_column, a.method, a.split, a.seed, a.out,
                       split_file=a.split_file, split_sizes=tuple(a.split_sizes),
                       on_invalid=a.on_invalid, long_format=_long_format(a), overwrite=a.overwrite,
                       largest_fragment=a.largest_fragment, ensemble_size=a.ensemble_size,
                       **_model_params(a), **_ratio_options(a))
    if not is_global_zero():  # a DDP worker process: rank 0 reports and saves
        return 0
    print(f"model saved to {result.model_dir} ({result.seconds:.1f} s training, "
          f"{result.molecules_per_second:.0f} molecules/s)")
    if a.evaluate:
        print_metrics(api.evaluate(result.model_dir), result.model_dir)
    return 0


def _long_format(a: argparse.Namespace) -> bool | None:
    return True if a.long or a.format == "long" else False if a.format == "wide" else None


def cmd_predict(a: argparse.Namespace) -> int:
    api = lazy.api()
    frame = api.predict(a.model, a.data, a.out, a.smiles_column, a.on_invalid, a.batch_size,
                        a.id_column, a.largest_fragment, not a.no_domain, a.domain_threshold)
    invalid = int((frame["reason"] != "").sum()) if "reason" in frame else 0
    print(f"{len(frame) - invalid} molecule(s) predicted" + (f", {invalid} invalid (empty, with a reason)"
                                                             if invalid else "") + f" -> {a.out}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    api = lazy.api()
    print_metrics(api.evaluate(a.model, plots=not a.no_plots), a.model)
    return 0


def cmd_split(a: argparse.Namespace) -> int:
    api = lazy.api()
    paths = api.make_splits(a.data, a.out, a.targets, a.smiles_column, a.split, a.seeds,
                            tuple(a.split_sizes), a.on_invalid)
    for p in paths:
        print(p)
    return 0


def cmd_benchmark(a: argparse.Namespace) -> int:
    api = lazy.api()
    tasks = a.tasks[0] if a.tasks and len(a.tasks) == 1 and a.tasks[0] in ("reference10", "all") else a.tasks
    report = api.benchmark(tasks, a.split, a.seeds, a.methods, a.out, a.quick, a.full,
                           a.max_per_task, a.epochs, a.sweep, a.data, not a.no_progress, a.report_only,
                           a.compare_with, a.partial_methods, a.aggregation)
    print(report.read_text())
    print(f"report written to {report}; per-run results in {a.out}/runs/")
    return 0


def cmd_screen(a: argparse.Namespace) -> int:
    api = lazy.api()
    summary = api.screen(a.model, a.library, a.out, a.where, a.ensemble, a.engine, a.workers,
                         a.smiles_column, a.chunk_size, a.batch_size, not a.no_domain,
                         a.domain_threshold, not a.no_progress, a.precision, a.largest_fragment)
    print(f"{summary.read} molecule(s) read, {summary.invalid} invalid, {summary.hits} hit(s) -> "
          f"{summary.out} ({summary.molecules_per_second:.0f} molecules/s"
          + (f"; {summary.resumed_chunks} chunk(s) done before" if summary.resumed_chunks else "") + ")")
    if summary.rejects_file:
        print(f"invalid SMILES: {summary.rejects_file}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molgate", description=(
        "GATE and baselines for molecular property prediction. Run 'molgate COMMAND --help'."))
    parser.add_argument("--version", action="version", version=f"molgate {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model and save it to a model directory")
    p.add_argument("--data", required=True, help="CSV/Parquet, wide (SMILES + task columns) or long")
    p.add_argument("--smiles-column", default="smiles")
    p.add_argument("--targets", nargs="+", default=None, help="task columns (default: all others)")
    p.add_argument("--format", choices=["auto", "wide", "long"], default="auto",
                   help="wide: a column per task; long: smiles, task, value columns; auto: long only when "
                        "the task column holds names and --targets are not columns of their own")
    p.add_argument("--long", action="store_true", help="the same as --format long")
    p.add_argument("--method", choices=["stl", "mtl", "gate", "gate-pair"], default="mtl")
    p.add_argument("--split", choices=["random", "scaffold"], default="scaffold")
    p.add_argument("--split-file", default=None, help="reuse a saved split (molgate split file)")
    split_sizes_option(p)
    p.add_argument("--seed", type=count, default=0)
    p.add_argument("--out", required=True, help="model directory")
    overwrite_option(p)
    p.add_argument("--on-invalid", choices=["error", "skip"], default="error",
                   help="skip: continue and write rejected rows to OUT.rejects.csv")
    p.add_argument("--largest-fragment", action="store_true",
                   help="keep only the largest fragment of multi-fragment SMILES (salts); predict and "
                        "screen then do the same")
    p.add_argument("--ensemble-size", type=positive_int, default=1,
                   help="N models with seeds SEED..SEED+N-1 on the same split, in one folder: predict "
                        "and screen report their mean and <task>_std")
    p.add_argument("--evaluate", action="store_true", help="evaluate on the test split afterwards")
    _add_model_options(p)
    _add_gate_options(p)
    p.set_defaults(func=cmd_train)

    add_add_task_command(sub)

    p = sub.add_parser("screen", help="predict a large library, filter on the properties, resumably")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--library", nargs="+", required=True,
                   help="SMILES text (.smi/.txt), CSV/TSV (optionally .gz) or Parquet files")
    p.add_argument("--out", required=True, help="output .parquet (hits only with --where)")
    p.add_argument("--where", default=None,
                   help='criteria in units, e.g. "boiling_point > 450 and viscosity_298 < 10"')
    p.add_argument("--ensemble", nargs="+", default=None, help="more model directories: mean and std")
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=count, default=None,
                   help="worker processes (default: CPU count; 0: all in this process)")
    p.add_argument("--smiles-column", default="smiles", help="for CSV/Parquet libraries")
    p.add_argument("--chunk-size", type=positive_int, default=10_000, help="molecules per resumable chunk")
    p.add_argument("--batch-size", type=positive_int, default=1024)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: matrix products in bfloat16: faster on GPUs and on CPUs with AVX-512 BF16 or AMX, "
                        "slower elsewhere (a warning says so)")
    p.add_argument("--no-domain", action="store_true", help="skip the applicability-domain similarity")
    fragment_option(p)
    p.add_argument("--domain-threshold", type=unit_interval, default=0.3,
                   help="in_domain = nearest-training-neighbour Tanimoto >= this")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("predict", help="predict every task of a model for new molecules")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", required=True, help="CSV/Parquet with a SMILES column")
    p.add_argument("--out", required=True, help="output .csv or .parquet")
    p.add_argument("--smiles-column", default=None, help="default: the one used in training")
    p.add_argument("--on-invalid", choices=["error", "skip"], default="error",
                   help="skip: an invalid row keeps its place with empty predictions and a reason")
    p.add_argument("--id-column", nargs="+", default=None,
                   help="keep only these input columns (and the SMILES); default: every input column")
    p.add_argument("--batch-size", type=positive_int, default=256)
    fragment_option(p)
    p.add_argument("--no-domain", action="store_true", help="skip the applicability-domain similarity")
    p.add_argument("--domain-threshold", type=unit_interval, default=0.3,
                   help="in_domain = nearest-training-neighbour Tanimoto >= this")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="metrics and parity plots on the model's test split")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("split", help="save random/scaffold split files, balanced per task")
    p.add_argument("--data", required=True)
    p.add_argument("--smiles-column", default="smiles")
    p.add_argument("--targets", nargs="+", default=None)
    p.add_argument("--split", nargs="+", choices=["random", "scaffold"], default=["random", "scaffold"])
    p.add_argument("--seeds", nargs="+", type=count, default=[0, 1, 2, 3, 4])
    split_sizes_option(p)
    p.add_argument("--on-invalid", choices=["error", "skip"], default="error")
    p.add_argument("--out", required=True, help="folder for the split files")
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("benchmark", help="STL, MTL, GATE and Chemprop on the same splits: the papers' tables")
    p.add_argument("--tasks", nargs="+", default=None,
                   help="a preset (reference10, all) or names (default reference10; --quick: 2 small tasks)")
    p.add_argument("--split", nargs="+", choices=["random", "scaffold"], default=["scaffold"])
    p.add_argument("--seeds", nargs="+", type=count, default=None, help="default 0-4 (--quick: 0)")
    p.add_argument("--methods", nargs="+", default=["stl", "mtl", "gate", "chemprop"],
                   help="stl mtl gate gate-separate chemprop (= chemprop-stl chemprop-mtl)")
    p.add_argument("--out", required=True, help="folder for runs, report.md, results.json, figures")
    p.add_argument("--quick", action="store_true", help="2 small tasks, seed 0, 3 epochs, small networks (CI-sized)")
    p.add_argument("--full", action="store_true", help="no training cap, 50 epochs (for a GPU)")
    p.add_argument("--max-per-task", type=positive_int, default=None,
                   help="training labels per task (default 1500; sampled per seed from train only)")
    p.add_argument("--epochs", type=positive_int, default=None, help="default 30 (quick: 3)")
    p.add_argument("--sweep", action="store_true", help="choose GATE's beta/delta/sigma on validation first")
    p.add_argument("--data", default=None, help="a suite.parquet to use instead of building one")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: report OUT's finished runs on the seeds where every method finished")
    p.add_argument("--compare-with", default=None, metavar="DIR",
                   help="another benchmark folder (e.g. the capped one beside --full): GATE's edge side by side")
    p.add_argument("--aggregation", choices=AGGREGATION_NAMES, default=None,
                   help="atoms -> molecule in every D-MPNN, Chemprop's included (default mean; "
                        "Chemprop v2's own default is norm; mean+norm, ours, without the Chemprop methods)")
    p.add_argument("--partial-methods", nargs="+", default=[], metavar="METHOD",
                   help="methods still short of seeds: each against GATE on the seeds it finished, "
                        "outside the main tables (never trained)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_benchmark)

    add_data_commands(sub)
    add_library_commands(sub)
    add_pretrain_command(sub)
    add_export_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="molgate: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except MolgateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that cannot be read or written: its message names it
        print(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
