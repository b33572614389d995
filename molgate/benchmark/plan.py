"""What a benchmark runs: settings, the (split, seed, method) jobs, and where each result lives.

Every job writes ``OUT/runs/<split>/seed<seed>/<method>/result.json`` when it finishes; a rerun with
the same settings skips jobs whose result exists, so a killed benchmark continues where it stopped.
The settings are saved as ``OUT/benchmark.json``; a rerun with different settings into the same
folder is refused rather than mixing results.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from molgate.methods import GateConfig
from molgate.nn.pooling import AGGREGATIONS as ENCODER_AGGREGATIONS, CHEMPROP_AGGREGATIONS

#: molgate's methods and the ablations that isolate one idea each: ``mtl-balanced`` is MTL trained
#: and selected on the per-task reduction (GATE's), ``gate-noalign`` is GATE with every alignment
#: term off (same encoders, heads and reduction), ``gate-trunk`` / ``gate-separate`` fix the sharing,
#: ``gate-fast`` is GATE with the cheap estimates of its pair terms (16 perturbed molecules per batch,
#: 3 mapping sources per target and step; [ours]). ``gate-separate-strong`` is separate encoders with
#: strong raw alignment (alpha = gamma = 1, beta = 30, delta = 1e4), and ``gate-separate-noalign``
#: the same model with every alignment term off: its exact ablation. ``gate-separate-nodis`` is the
#: strong terms without the distance term (no perturbed passes), ``gate-separate-molpert`` the strong
#: terms with the distance term on each task's perturbed molecule vector (``perturb_at="molecule"``,
#: delta 3500; [ours]): the two cheap forms that kept the strong form's gain in the alignment trial.
MOLGATE_METHODS = ("stl", "mtl", "mtl-balanced", "gate", "gate-noalign", "gate-trunk", "gate-separate", "gate-fast",
                   "gate-separate-strong", "gate-separate-noalign", "gate-separate-nodis",
                   "gate-separate-molpert")
#: the strong raw alignment under which separate encoders beat their ablation (README, GATE section)
STRONG_ALIGNMENT = dict(form="raw", alpha=1.0, beta=30.0, gamma=1.0, delta=10000.0)
CHEMPROP_METHODS = ("chemprop-stl", "chemprop-mtl")
METHODS = MOLGATE_METHODS + CHEMPROP_METHODS
ALIASES = {"chemprop": CHEMPROP_METHODS}
#: atoms -> molecule, as the D-MPNN knows them: molgate's default ``mean``; Chemprop v2's own is ``norm``
AGGREGATIONS = tuple(ENCODER_AGGREGATIONS)


def expand_methods(methods) -> tuple[str, ...]:
    out: list[str] = []
    for m in methods:
        for name in ALIASES.get(m, (m,)):
            if name not in METHODS:
                raise ValueError(f"unknown method {name!r}; choose from {METHODS + tuple(ALIASES)}")
            if name not in out:
                out.append(name)
    return tuple(out)


@dataclass
class BenchmarkConfig:
    """Settings of one benchmark; the defaults are the CPU budget run (see the README)."""

    tasks: list[str] | str = "reference10"
    splits: tuple[str, ...] = ("scaffold",)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    methods: tuple[str, ...] = ("stl", "mtl", "gate", "chemprop")
    max_per_task: int | None = 1500  # training labels per task, sampled per seed from train only
    epochs: int = 30
    patience: int = 6
    hidden_size: int = 300
    batch_size: int = 64
    data: str | None = None  # a suite.parquet (or any wide table); default: build the suite
    gate: GateConfig = field(default_factory=GateConfig)
    aggregation: str = "mean"  # atoms -> molecule in every D-MPNN, Chemprop's runs included

    def __post_init__(self):
        self.methods = expand_methods(self.methods)
        self.splits, self.seeds = tuple(self.splits), tuple(int(s) for s in self.seeds)
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {self.aggregation!r}")
        chemprop = [m for m in self.methods if m in CHEMPROP_METHODS]
        if chemprop and self.aggregation not in CHEMPROP_AGGREGATIONS:
            raise ValueError(f"Chemprop has no {self.aggregation!r} aggregation (it knows "
                             f"{', '.join(CHEMPROP_AGGREGATIONS)}); leave out {', '.join(chemprop)} or choose one")
        if isinstance(self.gate, dict):
            self.gate = GateConfig(**self.gate)

    @classmethod
    def quick(cls, **overrides) -> "BenchmarkConfig":
        """CI-sized: 2 small tasks, 1 seed, 3 epochs, small networks."""
        base = dict(tasks=["surface_tension_298", "viscosity_298"], seeds=(0,), epochs=3, patience=3,
                    max_per_task=150, hidden_size=64,
                    gate=GateConfig(latent_size=32, lf_size=32, perturb_count=2))
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @classmethod
    def from_options(cls, tasks=None, splits=("scaffold",), seeds=None, methods=("stl", "mtl", "gate", "chemprop"),
                     quick: bool = False, full: bool = False, max_per_task: int | None = None,
                     epochs: int | None = None, data: str | None = None,
                     aggregation: str | None = None) -> "BenchmarkConfig":
        """The settings of ``molgate benchmark``: ``quick`` (CI-sized) or the default regime, capped
        or ``full``; ``tasks`` and ``seeds`` given are honoured in either (None: the regime's own)."""
        if quick and full:
            raise ValueError("--quick and --full exclude each other")
        common = dict(splits=tuple(splits), methods=tuple(methods), data=data, tasks=tasks,
                      seeds=None if seeds is None else tuple(seeds), aggregation=aggregation)
        if quick:
            return cls.quick(**common, max_per_task=max_per_task, epochs=epochs)
        config = cls(**{k: v for k, v in common.items() if v is not None})
        if full:
            config.max_per_task, config.epochs, config.patience = None, 50, 10
        if max_per_task is not None:
            config.max_per_task = max_per_task
        if epochs is not None:
            config.epochs = epochs
        return config

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gate"] = self.gate.to_dict()
        return d

    def save_or_check(self, out: Path) -> None:
        path = out / "benchmark.json"
        mine = self.to_dict()
        if path.exists():
            saved = json.loads(path.read_text())
            saved.setdefault("aggregation", "mean")  # written before the setting existed
            if isinstance(saved.get("gate"), dict):  # fields added since are filled with their defaults
                saved["gate"] = json.loads(json.dumps(GateConfig(**saved["gate"]).to_dict()))
            keys = ["max_per_task", "epochs", "patience", "hidden_size", "batch_size", "data", "aggregation"]
            if any(m.startswith("gate") for m in saved.get("methods", [])):  # GATE's settings bind GATE runs only
                keys.append("gate")
            diff = [k for k in keys if saved.get(k) != json.loads(json.dumps(mine[k]))]
            if diff:
                raise ValueError(f"{out} holds a benchmark with other settings ({', '.join(diff)}); "
                                 "use another --out or the same settings")
            saved_lists = {k: list(dict.fromkeys(saved.get(k, []) + list(mine[k])))
                           for k in ("splits", "seeds", "methods")}
            mine.update(saved_lists)
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(mine, indent=2))


@dataclass(frozen=True)
class Job:
    split: str
    seed: int
    method: str

    def folder(self, out: Path) -> Path:
        return out / "runs" / self.split / f"seed{self.seed}" / self.method

    def result_file(self, out: Path) -> Path:
        return self.folder(out) / "result.json"

    def done(self, out: Path) -> bool:
        return self.result_file(out).exists()


def jobs(config: BenchmarkConfig) -> list[Job]:
    return [Job(sp, sd, m) for sp in config.splits for sd in config.seeds for m in config.methods]
