"""The model directory: everything needed to predict, in files that are safe to open.

```
DIR/config.json   method, tasks and units, model and featuriser settings, training settings, version
DIR/weights.pt    a plain state dict (tensors only): loaded with torch.load(weights_only=True)
DIR/split.json    the split the model was trained on (SMILES per part)
DIR/test_set.csv  the held-out test molecules and their labels, for ``molgate evaluate``
```
No pickled Python objects: an untrusted model directory cannot run code when loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

import molgate
from molgate.errors import InputError
from molgate.featurize.graphs import FeaturizerSettings
from molgate.methods import MODELS, EncoderConfig, PropertyModel, build_model

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
    torch.save(model.state_dict(), out_dir / "weights.pt")
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    return out_dir


def read_config(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "config.json"
    if not path.exists():
        raise InputError("not a molgate model directory (config.json missing)", file=str(model_dir))
    config = json.loads(path.read_text())
    if config.get("format") != FORMAT:
        raise InputError(f"unsupported model format {config.get('format')!r} (expected {FORMAT})",
                         file=str(path))
    return config


def load_model(model_dir: str | Path, map_location: str | torch.device = "cpu"
               ) -> tuple[PropertyModel, dict]:
    """Rebuild the model from its config and load its weights (tensors only)."""
    config = read_config(model_dir)
    if config["method"] not in MODELS:
        raise InputError(f"unknown method {config['method']!r}", file=str(Path(model_dir) / "config.json"))
    model = build_model(config["method"], len(config["tasks"]), config["d_v"], config["d_e"],
                        EncoderConfig(**config["model"]), config)
    state = torch.load(Path(model_dir) / "weights.pt", map_location=map_location, weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model, config
