"""The model directory: everything needed to predict, in files that are safe to open.

```
DIR/config.json   method, tasks and units, model and featuriser settings, training settings, version
DIR/weights.pt    a plain state dict (tensors only): loaded with torch.load(weights_only=True)
DIR/split.json    the split the model was trained on (SMILES per part)
DIR/test_set.csv  the held-out test molecules and their labels, for ``molgate evaluate``
```
No pickled Python objects: an untrusted model directory cannot run code when loaded.

``config.json`` carries a fingerprint of the architecture and the task order. A changed ``depth``
or a reordered task list still fits the weights' shapes (the D-MPNN shares its weights across
steps; heads are columns), so such an edit would predict silently wrong; the fingerprint makes
it an error instead. Every way a folder can be broken (no or bad config, weights missing, empty,
corrupt, pickled or of another model) is a one-line :class:`InputError`.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import warnings
from pathlib import Path

import torch

import molgate
from molgate.errors import InputError
from molgate.featurize.graphs import FeaturizerSettings
from molgate.methods import MODELS, EncoderConfig, PropertyModel, build_model
from molgate.outputs import check_complete

FORMAT = "molgate-model-v1"


def save_model(model: PropertyModel, out_dir: str | Path, tasks: list[str], units: list[str],
               featurizer: FeaturizerSettings, extra: dict | None = None) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "format": FORMAT,
        "molgate_version": molgate.__version__,
        "method": model.method,
        "tasks": list(tasks),
        "units": list(units),
        "d_v": model.d_v,
        "d_e": model.d_e,
        "model": model.config.to_dict(),
        "featurizer": featurizer.to_dict(),
        **model.extra_config(),
        **(extra or {}),
    }
    config["fingerprint"] = fingerprint(model, tasks, featurizer.to_dict())
    torch.save(model.state_dict(), out_dir / "weights.pt")
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    return out_dir


def fingerprint(model: PropertyModel, tasks: list[str], featurizer: dict) -> str:
    """A hash of everything that decides what the weights mean: method, task order, feature
    sizes, encoder and featuriser settings and the method's own settings."""
    payload = {"method": model.method, "tasks": list(tasks), "d_v": model.d_v, "d_e": model.d_e,
               "model": model.config.to_dict(), "featurizer": featurizer, **model.extra_config()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def read_config(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "config.json"
    if not path.exists():
        raise InputError("not a molgate model directory (config.json missing)", file=str(model_dir))
    check_complete(model_dir)
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read config.json: {exc}", file=str(path)) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise InputError(f"unsupported model format {found!r} (expected {FORMAT})", file=str(path))
    for key, kind in (("method", str), ("tasks", list), ("d_v", int), ("d_e", int), ("model", dict),
                      ("featurizer", dict)):
        if not isinstance(config.get(key), kind):
            raise InputError(f"config.json: '{key}' is missing or not a {kind.__name__}", file=str(path))
    return config


def trained_on_largest_fragment(model_dir: str | Path) -> bool:
    """Whether training kept only the largest fragment of multi-fragment SMILES."""
    data = read_config(model_dir).get("data", {})
    return bool(isinstance(data, dict) and data.get("largest_fragment"))


def _read_weights(path: Path, map_location) -> dict:
    if not path.is_file():
        raise InputError("weights.pt is missing", file=str(path.parent))
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols: the error says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise InputError(f"refused: weights.pt is not a plain tensor state dict: it holds a pickled "
                             f"Python object ({found.group(1)}), which is never loaded", file=str(path)) from None
        raise InputError("cannot read weights.pt (corrupt, or not a tensor state dict)", file=str(path)) from None
    except Exception as exc:  # noqa: BLE001 - empty, truncated or not a torch file at all
        raise InputError(f"cannot read weights.pt (empty or corrupt: {type(exc).__name__})",
                         file=str(path)) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("weights.pt is not a state dict of tensors", file=str(path))
    return state


def load_model(model_dir: str | Path, map_location: str | torch.device = "cpu"
               ) -> tuple[PropertyModel, dict]:
    """Rebuild the model from its config and load its weights (tensors only)."""
    config = read_config(model_dir)
    path = Path(model_dir) / "config.json"
    if config["method"] not in MODELS:
        raise InputError(f"unknown method {config['method']!r}", file=str(path))
    try:
        model = build_model(config["method"], len(config["tasks"]), config["d_v"], config["d_e"],
                            EncoderConfig(**config["model"]), config)
    except (TypeError, KeyError, ValueError) as exc:
        raise InputError(f"config.json does not describe a model: {type(exc).__name__}: {exc}",
                         file=str(path)) from None
    stored = config.get("fingerprint")  # absent in folders saved before it existed
    if stored is not None and stored != fingerprint(model, config["tasks"], config["featurizer"]):
        raise InputError("config.json no longer matches the weights (architecture, task order or "
                         "featuriser changed after training); restore it or train again", file=str(path))
    state = _read_weights(Path(model_dir) / "weights.pt", map_location)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"weights.pt does not fit the model in config.json ({first})",
                         file=str(Path(model_dir) / "weights.pt")) from None
    model.eval()
    return model, config
