"""build_suite: the property suite built offline from the tables shipped in `chemicals`."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import chemicals
import pandas as pd
import pyarrow
import rdkit
from tqdm.auto import tqdm

from molgate import __version__

from . import (combustion, conductivity, critical, curate, freesolv, interface, misc, parachor,
               phase_change, safety, thermo, vapor_pressure, viscosity, volume)
from .aggregate import aggregate, to_wide
from .clean import LIQUID_298_TASKS, apply_windows, melting_guard, prefer_crc_webbook_tb
from .identifiers import REASONS, check_smiles, smiles_of_cas
from .output import sha256, write_json, write_parquet
from .records import MEASURED_KINDS, Context, concat
from .rules import RULES
from .tables import TABLES_READ
from .tasks import TASKS, resolve_sources, resolve_tasks

PRODUCERS = {}
for _module in (phase_change, critical, thermo, interface, viscosity, volume, vapor_pressure,
                conductivity, safety, combustion, misc, parachor, freesolv):
    PRODUCERS.update(_module.PRODUCERS)
assert set(PRODUCERS) == set(TASKS), set(TASKS) ^ set(PRODUCERS)


def _with_dependencies(tasks: list[str]) -> list[str]:
    """Tasks whose records are needed: the melting point feeds the liquid guard, surface
    tension and densities feed the derived parachor, and every task a consistency rule links
    to a needed task is evidence. Taking the closure makes a value's flags the same in every
    build that contains its task."""
    need = set(tasks)
    while True:
        extra = set()
        if "parachor" in need:
            extra.update(parachor.INPUTS)
        if need & set(LIQUID_298_TASKS):
            extra.add("melting_point")
        for rule in RULES:
            linked = set(rule.tasks + rule.optional)
            if need & linked:
                extra |= linked
        if extra <= need:
            return [t for t in TASKS if t in need]
        need |= extra


def _attach_smiles(rec: pd.DataFrame, stereo: str) -> tuple[pd.DataFrame, dict, dict]:
    """Map each record's CAS (or raw SMILES) to a canonical SMILES; drop rejected molecules."""
    key = "smiles" if stereo == "keep" else "smiles_flat"
    raw = rec["raw_smiles"].copy()
    has_cas = raw.isna()
    cas_smiles = {c: smiles_of_cas(c) for c in pd.unique(rec.loc[has_cas, "cas"])}
    raw[has_cas] = rec.loc[has_cas, "cas"].map(cas_smiles)
    raw = raw.fillna("")
    verdicts = {s: check_smiles(s) for s in pd.unique(raw)}
    canon = raw.map(lambda s: getattr(verdicts[s], key))
    reason = raw.map(lambda s: verdicts[s].reason)
    # Rejections counted per distinct CAS (FreeSolv rows by SMILES).
    ident = rec["cas"].where(has_cas, rec["raw_smiles"])
    rejected = (pd.DataFrame({"id": ident, "reason": reason}).dropna().drop_duplicates("id")
                ["reason"].value_counts())
    dropped = rec.loc[reason.notna(), "task"].value_counts()
    out = rec.assign(smiles=canon)[reason.isna()]
    out = out[["smiles", "task", "value", "source", "kind"]].reset_index(drop=True)
    return (out, {r: int(rejected.get(r, 0)) for r in REASONS},
            {k: int(v) for k, v in dropped.items()})


def _versions() -> dict:
    return {"molgate": __version__, "chemicals": chemicals.__version__,
            "rdkit": rdkit.__version__, "pandas": pd.__version__, "pyarrow": pyarrow.__version__}


def build_suite(tasks: str | Iterable[str] = "reference10", out_dir: str | Path = "suite",
                exclude_sources: Iterable[str] = (), measured_only: bool = False,
                stereo: str = "keep", progress: bool = True, drop_flagged: bool = True,
                require_corroboration: str | Iterable[str] = ()) -> dict:
    """Build the suite into `out_dir` (suite.parquet, suite_long.parquet, suite_review.csv,
    manifest.json).

    Values breaking a consistency rule or far from their analogues are flagged (the `flags`
    column of suite_long.parquet, listed in suite_review.csv) and, with `drop_flagged`, left
    out of suite.parquet and suite_long.parquet. Tasks in `require_corroboration` keep only
    values two independent sources agree on. Returns the manifest. Building twice with the
    same options and package versions gives byte-identical files.
    """
    if stereo not in ("keep", "remove"):
        raise ValueError(f"stereo must be 'keep' or 'remove', not {stereo!r}")
    names = resolve_tasks(tasks)
    req = ([require_corroboration] if isinstance(require_corroboration, str)
           else list(require_corroboration))
    corr = resolve_tasks([r for r in req if r]) if any(req) else []
    if set(corr) - set(names):
        raise ValueError("require_corroboration names tasks not in the build: "
                         + ", ".join(t for t in corr if t not in names))
    excluded = resolve_sources(exclude_sources)
    needed = _with_dependencies(names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    TABLES_READ.clear()
    ctx = Context()
    frames = []
    for task in tqdm(needed, desc="reading chemicals tables", disable=not progress):
        frames.append(PRODUCERS[task](ctx))
    rec = concat(frames)
    if "raw_smiles" not in rec:
        rec["raw_smiles"] = None
    rec = rec[~rec["source"].isin(excluded)]
    if measured_only:
        rec = rec[rec["kind"].isin(MEASURED_KINDS)]
    if not rec["task"].isin(names).any():
        raise ValueError(f"no values left for {', '.join(names)}: every source is excluded"
                         + (" or not measured" if measured_only else ""))

    rec, rejected, dropped_rejected = _attach_smiles(rec.reset_index(drop=True), stereo)
    rec, out_of_window = apply_windows(rec)
    rec, n_cc_tb = prefer_crc_webbook_tb(rec.reset_index(drop=True))
    rec, guard_records, guard_molecules = melting_guard(rec)

    long = aggregate(rec)
    if "parachor" in names and "derived" not in excluded and not measured_only:
        derived, out_derived = apply_windows(parachor.derive(long))
        out_of_window["parachor"] = out_of_window.get("parachor", 0) + out_derived.get(
            "parachor", 0)
        rec = pd.concat([rec, derived], ignore_index=True)
        long = aggregate(rec)
    ann, flags, stats = curate.flag_values(rec, long, names)
    long, gone_flag, gone_corr = curate.select(ann, drop_flagged, corr)
    wide = to_wide(long, names)
    review = curate.review_table(ann, flags, stats, drop_flagged)
    curate.write_review(review, out_dir / "suite_review.csv")

    files = {"suite.parquet": write_parquet(wide, out_dir / "suite.parquet"),
             "suite_long.parquet": write_parquet(long, out_dir / "suite_long.parquet"),
             "suite_review.csv": sha256(out_dir / "suite_review.csv")}
    used = long.groupby("task")["sources"].agg(
        lambda s: sorted({x for v in s for x in v.split(";")}))
    counts = long["task"].value_counts()
    manifest = {
        "versions": _versions(),
        "options": {"tasks": names, "exclude_sources": excluded, "measured_only": measured_only,
                    "stereo": stereo, "drop_flagged": drop_flagged,
                    "require_corroboration": corr},
        "n_molecules": int(len(wide)),
        "tasks": {t: {"count": int(counts.get(t, 0)), "unit": TASKS[t].unit,
                      "kind": TASKS[t].kind, "sources": list(used.get(t, [])),
                      "description": TASKS[t].description} for t in names},
        "dropped": {t: {"rejected_molecule": dropped_rejected.get(t, 0),
                        "outside_window": out_of_window.get(t, 0),
                        "melting_point_guard": guard_records.get(t, 0),
                        "melting_point_guard_molecules": guard_molecules.get(t, 0),
                        **({"common_chemistry_tb": n_cc_tb} if t == "boiling_point" else {})}
                    for t in names},
        "rejected_identifiers": rejected,
        "curation": curate.report(ann, flags, names, drop_flagged, corr, gone_flag, gone_corr,
                                  long),
        "chemicals_tables": sorted(TABLES_READ),
        "sha256": files,
    }
    write_json(manifest, out_dir / "manifest.json")
    return manifest
