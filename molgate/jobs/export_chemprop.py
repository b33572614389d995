"""A molgate model's D-MPNN as a Chemprop v2 model file, for ``chemprop train --from-foundation FILE``.

molgate's encoders are Chemprop's own ``BondMessagePassing`` and aggregation classes, so the export
is exact: the file holds a Chemprop ``MPNN`` whose message passing and aggregation are the trained
molgate ones (weights copied), with an untrained one-output FFN because Chemprop's format needs
one. ``--from-foundation`` keeps the message passing and aggregation and trains a new FFN on them:
the fine-tuning baseline that starts from the same pre-trained encoder as molgate's task addition.

Which D-MPNN: MTL's shared encoder, GATE's shared trunk (``--sharing trunk``; the per-task encoder
MLPs stay behind), or one STL member (``task``). GATE with ``--sharing separate`` keeps one D-MPNN
per task inside one batched module and is not exported.

Chemprop reads the file with ``torch.load(..., weights_only=False)`` (its own format); molgate only
writes it and never reads it back.
"""

from __future__ import annotations

import copy
from pathlib import Path

from chemprop.models import MPNN
from chemprop.models.utils import save_model
from chemprop.nn import RegressionFFN

from molgate.errors import InputError
from molgate.nn.pooling import AGGREGATIONS, CHEMPROP_AGGREGATIONS
from molgate.outputs import check_output_file
from molgate.train.checkpoint import load_model

#: the aggregations a Chemprop ``MPNN`` file can hold (molgate's ``mean+norm`` is not one)
CHEMPROP_AGGREGATION_CLASSES = tuple(AGGREGATIONS[name] for name in CHEMPROP_AGGREGATIONS)
#: molgate featuriser settings -> the ``chemprop train`` options that build the same graphs.
ATOM_MODES = {"v1": "V1", "v2": "V2", "organic": "ORGANIC"}


def exported_encoder(model, config: dict, task: str | None):
    """The molgate ``MoleculeEncoder`` to export (message passing + aggregation)."""
    method, tasks = config["method"], config["tasks"]
    if method == "stl":
        if task is None:
            raise InputError(f"an STL model has one D-MPNN per task; name one with --task ({', '.join(tasks)})")
        if task not in tasks:
            raise InputError(f"--task {task!r} is not one of the model's tasks ({', '.join(tasks)})")
        return model.members[tasks.index(task)].encoder
    if task is not None:
        raise InputError(f"--task is for STL models; this {method} model has one shared D-MPNN")
    if hasattr(model, "encoder"):
        return model.encoder
    if getattr(model, "trunk", None) is not None:
        return model.trunk
    raise InputError(f"a {method} model with one D-MPNN per task (--sharing separate) has no single "
                     "encoder to export")


def chemprop_options(featurizer: dict) -> list[str]:
    """The ``chemprop train`` options whose graphs match the exported encoder's featuriser."""
    options = ["--multi-hot-atom-featurizer-mode", ATOM_MODES[featurizer.get("atom_featurizer", "v2")]]
    if featurizer.get("add_hydrogens"):
        options.append("--add-h")
    return options


def export_chemprop(model_dir: str | Path, out: str | Path, task: str | None = None,
                    overwrite: bool = False) -> tuple[Path, list[str]]:
    """Write ``out`` (a ``.pt`` file Chemprop loads); returns it and the matching chemprop options."""
    model, config = load_model(model_dir)
    out = check_output_file(out, [Path(model_dir) / "weights.pt", Path(model_dir) / "config.json"])
    if out.exists() and not overwrite:
        raise InputError("exists; give --overwrite to replace it, or a new --out", file=str(out))
    encoder = exported_encoder(model, config, task)
    if type(encoder.aggregation) not in CHEMPROP_AGGREGATION_CLASSES:
        raise InputError(f"Chemprop has no {config['model'].get('aggregation')!r} aggregation (molgate's own), so "
                         "this model's encoder cannot be exported faithfully", file=str(model_dir))
    mp = copy.deepcopy(encoder.message_passing)
    agg = copy.deepcopy(encoder.aggregation)
    chemprop_model = MPNN(mp, agg, RegressionFFN(n_tasks=1, input_dim=mp.output_dim))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(out, chemprop_model)
    return out, chemprop_options(config.get("featurizer", {}))
