"""``molgate add-task``: a GATE model plus one new task, the pre-trained model left frozen.

The workflow around :mod:`molgate.methods.task_addition` (which holds the model and the losses):
read and split the new task's data, cache the frozen model's outputs once, train only the new
task's modules, and save the extended model with the test molecules of every task.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molgate.data.run_inputs import split_and_record, units_from_manifest
from molgate.data.table import read_table
from molgate.errors import InputError
from molgate.featurize.batching import GraphDataset
from molgate.featurize.graphs import FeaturizerSettings, featurize
from molgate.methods.extended_gate import ExtendedGATEModel, extend, gate_parts
from molgate.methods.gate import GATEModel
from molgate.methods.gate_losses import GateLossWeights
from molgate.methods.source_weights import SOURCE_WEIGHTS, source_ratios, source_relatedness
from molgate.methods.frozen_context import PERTURBATIONS, FrozenContext, frozen_context
from molgate.methods.task_addition import (INIT_ENCODERS, MOLECULE_PERTURBATIONS_UNSUPPORTED, TaskAdditionModel,
                                          check_align_molecules, copy_task_modules, new_task_part)
from molgate.outputs import staged_model_dir
from molgate.screen.domain import training_smiles
from molgate.train.checkpoint import load_model, read_config, save_model, trained_on_largest_fragment
from molgate.train.fit import fit_model
from molgate.train.module import TrainSettings


@dataclass
class AddTaskResult:
    model_dir: Path
    task: str
    split_counts: pd.DataFrame
    rejects_file: Path | None
    seconds: float  # training the new task's modules
    cache_seconds: float  # computing the frozen model's cached outputs, once
    fit: dict = field(default_factory=dict)


#: The cheap estimates of the pair terms (both [ours]): one frozen source per step in the mapping
#: term (drawn anew each step, weighted K, so the term is unbiased), and perturbed copies of 16 of a
#: batch's 64 molecules for the distance term (``GateConfig.perturb_molecules``), so the new part's
#: encoder and Transfer see 128 rows per batch instead of 320 (the frozen side's distances are
#: cached for every molecule either way). At the reference10_v2 settings (5 small tasks added to the
#: large five, 5 seeds) their test RMSE matched every molecule and 5 sources: better on 13/25
#: (task, seed) pairs, 3/5 tasks (``benchmarks/results/task_addition_v2``, ``add-task-fast``).
MAP_SOURCES = 1
PERTURB_MOLECULES = 16


@dataclass
class Addition:
    """Everything a task addition trains: the view (new part + frozen model) and its datasets."""

    view: TaskAdditionModel
    train: GraphDataset
    val: GraphDataset
    context: FrozenContext
    cache_seconds: float  # computing the frozen model's cached outputs, once
    init_source: int | None = None  # init_encoder="related": the frozen task the new MLPs start from


#: the loss settings a new task may change; the rest (pair reduction, distance form) is the model's
ALIGNMENT_KEYS = ("alpha", "beta", "gamma", "delta", "form")
#: The new task's alignment terms by default (**[ours]**): plain MSEs, alpha = gamma = 1, beta = 100,
#: no distance term (so no perturbed copies are needed). Chosen on the large5 pre-training set of
#: ``benchmarks/task_addition.py`` (5 small tasks x 5 seeds: better than MTL fine-tuning on 5/5 tasks
#: and 19/25 pairs), then confirmed on the held-out leave-one-out set (5/5, 21/25). The pre-trained
#: model's own settings (GATE's scale-free 0.03) lose to fine-tuning on large5 (2/5 tasks, 9/25 pairs,
#: ``add-task-fast``).
ADD_TASK_ALIGNMENT = {"form": "raw", "alpha": 1.0, "beta": 100.0, "gamma": 1.0, "delta": 0.0}
#: what ``alignment`` replaces settings of: :data:`ADD_TASK_ALIGNMENT` or the pre-trained model's
ALIGNMENT_DEFAULTS = ("addition", "model")


def alignment_weights(base: GateLossWeights, alignment: dict | None, defaults: str = "addition") -> GateLossWeights:
    """The new task's loss weights: ``base`` (the pre-trained model's) with :data:`ADD_TASK_ALIGNMENT`
    (``defaults="addition"``; ``"model"``: nothing) and then ``alignment`` (a dict with keys among
    :data:`ALIGNMENT_KEYS`, e.g. ``{"form": "raw", "beta": 30.0}``) replacing some."""
    if defaults not in ALIGNMENT_DEFAULTS:
        raise InputError(f"alignment_defaults must be one of {', '.join(ALIGNMENT_DEFAULTS)}, not {defaults!r}")
    alignment = dict(alignment or {})
    unknown = sorted(set(alignment) - set(ALIGNMENT_KEYS))
    if unknown:
        raise InputError(f"alignment: unknown setting(s) {', '.join(unknown)}; choose from {', '.join(ALIGNMENT_KEYS)}")
    for key in ALIGNMENT_KEYS[:4]:
        value = alignment.get(key, 0.0)
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and value >= 0):
            raise InputError(f"alignment: {key} must be a number >= 0, not {alignment[key]!r}")
    try:
        return replace(base, **{**(ADD_TASK_ALIGNMENT if defaults == "addition" else {}), **alignment})
    except ValueError as err:
        raise InputError(f"alignment: {err}") from None


def prepare_addition(frozen: GATEModel | ExtendedGATEModel, train_graphs, y_train: np.ndarray, val_graphs,
                     y_val: np.ndarray, init_encoder: str = "pretrained", perturbations: str = "bank",
                     cache_frozen: bool = True, map_sources: int | None = MAP_SOURCES,
                     diagnostics: bool = False, seed: int = 0, train_trunk: bool = True,
                     perturb_molecules: int | None = PERTURB_MOLECULES, source_weights: str = "uniform",
                     alignment: dict | None = None, align_molecules: int | None = None,
                     latent_size: int | None = None, transfer_layers: int | None = None,
                     alignment_defaults: str = "addition") -> Addition:
    """The new task's part (initialised from the global RNG; ``perturb_molecules`` applies to a
    trunk model, a separate one perturbs every molecule), the frozen context of its training
    molecules, the training view with its scaler fitted on ``y_train`` ``[n, 1]``, and the
    standardised datasets (only the training set carries the context). ``alignment``: see
    :func:`alignment_weights` (with ``alignment_defaults``); ``align_molecules``: see
    :class:`TaskAdditionModel`; ``latent_size``: the new part's own latent width (None: the
    pre-trained model's; its LF frame is always the model's); ``transfer_layers``: the hidden layers
    of its Transfer and Inverse (None: the model's)."""
    base = gate_parts(frozen)[0].gate
    if any(p.gate.perturb_at != "input" for p in gate_parts(frozen)):
        raise InputError(MOLECULE_PERTURBATIONS_UNSUPPORTED)
    gate = replace(base, perturb_molecules=perturb_molecules if base.sharing == "trunk" else None,
                   weights=alignment_weights(base.weights, alignment, alignment_defaults),
                   latent_size=latent_size or base.latent_size,
                   transfer_layers=base.transfer_layers if transfer_layers is None else transfer_layers)
    try:
        check_align_molecules(align_molecules, gate)
    except ValueError as err:
        raise InputError(str(err)) from None
    new = new_task_part(frozen, gate, init_encoder)  # caching draws no random number
    init_source = None
    if init_encoder == "related":  # the frozen task whose prediction correlates most with the new labels
        r = source_relatedness(frozen, train_graphs, y_train, absolute=False)
        init_source = int(r.abs().argmax())
        try:
            copy_task_modules(frozen, init_source, new, -1.0 if r[init_source] < 0 else 1.0)
        except ValueError as err:
            raise InputError(f"init_encoder 'related': {err}") from None
    start = time.perf_counter()
    context = frozen_context(frozen, new, train_graphs, perturbations=perturbations, cache=cache_frozen, seed=seed,
                             train_trunk=train_trunk)
    cache_seconds = time.perf_counter() - start
    ratios = source_ratios(source_weights, frozen, train_graphs, y_train)
    view = TaskAdditionModel(frozen, new, context.kind, context.scales, map_sources, diagnostics, train_trunk, ratios,
                             align_molecules)
    view.scaler.fit(y_train)
    with torch.no_grad():
        y_train, y_val = (view.scaler.transform(torch.as_tensor(y, dtype=torch.float32)).numpy()
                          for y in (y_train, y_val))
    return Addition(view, GraphDataset(train_graphs, y_train, context.values), GraphDataset(val_graphs, y_val),
                    context, cache_seconds, init_source)


def add_task(model: str | Path, data: str | Path, target: str, out: str | Path,
             smiles_column: str = "smiles", split: str = "scaffold", seed: int = 0,
             split_file: str | Path | None = None, split_sizes=(0.8, 0.1, 0.1),
             on_invalid: str = "error", init_encoder: str = "pretrained", cache_frozen: bool = True,
             perturbations: str = "bank", map_sources: int | None = MAP_SOURCES, diagnostics: bool = False,
             train_trunk: bool = True, perturb_molecules: int | None = PERTURB_MOLECULES,
             source_weights: str = "uniform", alignment: dict | None = None, align_molecules: int | None = None,
             latent_size: int | None = None, transfer_layers: int | None = None,
             alignment_defaults: str = "addition", epochs: int = 50,
             batch_size: int = 64, patience: int = 10,
             warmup_epochs: int = 2,
             init_lr: float = 1e-4, max_lr: float = 1e-3, final_lr: float = 1e-4,
             accelerator: str = "cpu", progress: bool = True, cache: bool = True,
             cache_dir: str | None = None, overwrite: bool = True) -> AddTaskResult:
    """``molgate add-task``: a GATE model in ``model`` plus one new task, saved to ``out``.

    Everything in ``model`` is frozen (the folder itself is only read); the new task's own
    modules are trained on ``target`` of ``data`` with the GATE losses against the frozen tasks
    (:mod:`molgate.methods.task_addition`). The split is of the new data (or ``split_file``):
    train fits, validation early-stops, test is kept for ``molgate evaluate``. ``out`` is written
    atomically and replaced only with ``overwrite``, as in :func:`molgate.api.train`.

    ``init_encoder``: ``"pretrained"`` (the trunk copied, the MLPs random), ``"random"``, or
    ``"related"`` (the trunk, and the MLPs of the frozen task whose prediction correlates most with
    the new training labels, :func:`~molgate.methods.task_addition.copy_task_modules`).
    ``perturbations`` (``"bank"``: fixed draws per molecule, so the frozen parts' views are cached
    once; ``"per_step"``: fresh draws, the frozen MLPs run on every step), ``map_sources`` (the
    frozen sources of the mapping term per step, drawn anew on each, weighted K / S so the term is
    unbiased; None: all K, exact), ``perturb_molecules`` (the new part perturbs only each batch's
    first P molecules for the distance term; None: all), ``source_weights`` (``"uniform"``, or
    ``"correlation"``: each frozen source's transfer ratio follows how its prediction correlates
    with the new labels, :mod:`molgate.methods.source_weights`) and ``cache_frozen``: see
    :mod:`molgate.methods.task_addition`. The new task's loss settings are
    :data:`ADD_TASK_ALIGNMENT` (``alignment_defaults="addition"``) or the pre-trained model's
    (``"model"``); ``alignment`` replaces some of them (keys ``alpha, beta, gamma, delta, form``;
    e.g. ``{"form": "raw", "beta": 30.0, "delta": 1e4}``). ``train_trunk=False`` keeps the new part's trunk at the
    pre-trained weights (its embedding is then cached too). ``align_molecules``: the auto-encoding and
    pair terms are estimated on each batch's first A molecules only (None: all; cheaper MLPs).
    ``latent_size``: the new task's own latent width (None: the pre-trained model's; narrower is
    cheaper: its Encoder, Transfer, Inverse and Head shrink, the shared LF frame does not).
    ``transfer_layers``: the hidden layers of the new task's Transfer and Inverse (None: the
    pre-trained model's; 0 makes them affine, which is cheaper). ``diagnostics`` logs the per-term gradient norms
    once per epoch (one backward per term and parameter group: about an epoch's cost on small data).
    """
    model_dir, out = Path(model), Path(out)
    if init_encoder not in INIT_ENCODERS:
        raise InputError(f"init_encoder must be one of {', '.join(INIT_ENCODERS)}, not {init_encoder!r}")
    if perturbations not in PERTURBATIONS:
        raise InputError(f"perturbations must be one of {', '.join(PERTURBATIONS)}, not {perturbations!r}")
    if map_sources is not None and map_sources < 1:
        raise InputError(f"map_sources must be at least 1 (or None for every frozen source), not {map_sources}")
    if source_weights not in SOURCE_WEIGHTS:
        raise InputError(f"source_weights must be one of {', '.join(SOURCE_WEIGHTS)}, not {source_weights!r}")
    if perturb_molecules is not None and perturb_molecules < 1:
        raise InputError(f"perturb_molecules must be at least 1 (or None for every molecule), not {perturb_molecules}")
    if latent_size is not None and latent_size < 1:
        raise InputError(f"latent_size must be at least 1 (or None for the pre-trained model's), not {latent_size}")
    if transfer_layers is not None and transfer_layers < 0:
        raise InputError(f"transfer_layers must be at least 0 (or None for the pre-trained model's), "
                         f"not {transfer_layers}")
    if align_molecules is not None and align_molecules < 1:
        raise InputError(f"align_molecules must be at least 1 (or None for every molecule), not {align_molecules}")
    alignment_weights(GateLossWeights(), alignment, alignment_defaults)  # refused before any work
    config = read_config(model_dir)
    if config["method"] not in ("gate", "gate-pair", "gate-extended"):
        raise InputError(f"add-task extends a GATE model; this one was trained with method "
                         f"{config['method']!r}", file=str(model_dir / "config.json"))
    if out.resolve() == model_dir.resolve():
        raise InputError("--out must be a new folder: the pre-trained model is left unchanged",
                         file=str(out))
    if target in config["tasks"]:
        raise InputError(f"task '{target}' already exists in the model {model_dir} (tasks: "
                         f"{', '.join(config['tasks'])}); add-task only adds new tasks, so retrain "
                         "the model to change an existing one", file=str(data), column=target)
    frozen, config = load_model(model_dir)
    final = out
    inputs = [p for p in (data, split_file, model_dir) if p is not None]
    with staged_model_dir(final, overwrite, inputs) as out:  # written here, renamed when complete
        table, rejects = read_table(data, smiles_column, [target], on_invalid=on_invalid,
                                    largest_fragment=trained_on_largest_fragment(model_dir))
        the_split, counts, rejects_file = split_and_record(table, rejects, data, out, split, seed,
                                                            split_file, split_sizes, True, final)

        featurizer = FeaturizerSettings(**config["featurizer"])
        settings = TrainSettings(epochs, batch_size, patience, warmup_epochs, init_lr, max_lr, final_lr,
                                 seed, accelerator, 1, progress)
        torch.manual_seed(seed)
        used = np.union1d(the_split.train, the_split.val)
        graphs = featurize([table.smiles[i] for i in used], featurizer, cache=cache, cache_dir=cache_dir,
                           progress=progress)
        position = {int(i): j for j, i in enumerate(used)}
        rows = {part: [position[int(i)] for i in idx] for part, idx in (("train", the_split.train), ("val", the_split.val))}
        addition = prepare_addition(frozen, [graphs[r] for r in rows["train"]], table.y[the_split.train],
                                    [graphs[r] for r in rows["val"]], table.y[the_split.val], init_encoder,
                                    perturbations, cache_frozen, map_sources, diagnostics, seed, train_trunk,
                                    perturb_molecules, source_weights, alignment, align_molecules, latent_size,
                                    transfer_layers, alignment_defaults)
        fit = fit_model(addition.view, addition.train, addition.val, out, settings, name="logs")
        new, context, cache_seconds = addition.view.new, addition.context, addition.cache_seconds
        extended = extend(frozen, new)
        units = list(config.get("units", [""] * len(config["tasks"]))) + units_from_manifest(data, [target])
        added_info = list(config.get("added_tasks", [])) + [{
            "task": target, "data": str(Path(data).resolve()), "smiles_column": smiles_column,
            "split": the_split.kind, "seed": seed, "init_encoder": init_encoder,
            "init_source": None if addition.init_source is None else config["tasks"][addition.init_source],
            "cache_frozen": cache_frozen, "context": context.kind, "perturbations": perturbations,
            "map_sources": map_sources, "perturb_molecules": new.gate.perturb_molecules,
            "train_trunk": train_trunk, "source_weights": source_weights, "alignment": dict(alignment or {}),
            "alignment_defaults": alignment_defaults,
            "align_molecules": align_molecules, "latent_size": new.gate.latent_size,
            "transfer_layers": new.gate.transfer_layers,
            "source_ratios": addition.view.transfer_ratios[:-1, -1].tolist(), "training": settings.to_dict(),
            "fit": asdict(fit),
            "cache_seconds": cache_seconds, "from_model": str(model_dir.resolve())}]
        keep = {k: config[k] for k in ("data", "training", "fit", "throughput", "transfer_ratios") if k in config}
        save_model(extended, out, list(config["tasks"]) + [target], units, featurizer,
                   {**keep, "added_tasks": added_info})
        earlier = training_smiles(model_dir)  # for the applicability domain of ``molgate screen``
        (out / "training_smiles.txt").write_text("\n".join(earlier) + "\n")
        # the test molecules of every task, old and new, for ``molgate evaluate``
        column = config.get("data", {}).get("smiles_column", "smiles")
        old_test = model_dir / "test_set.csv"
        new_test = table.subset(the_split.test).to_frame(smiles_column).rename(columns={smiles_column: column})
        frames = ([pd.read_csv(old_test)] if old_test.exists() else []) + [new_test]
        merged = pd.concat(frames, ignore_index=True).groupby(column, sort=False, as_index=False).first()
        merged.to_csv(out / "test_set.csv", index=False)
    return AddTaskResult(final, target, counts, rejects_file, fit.seconds, cache_seconds, asdict(fit))
