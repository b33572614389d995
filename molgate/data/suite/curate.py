"""Curation of the aggregated suite: tiers, consistency flags, outlier flags, and what is dropped.

Every value gets its tier and corroboration, and a `flags` column with the reason codes of the
rules it breaks (empty when none). Flagged values are dropped by default (training on a melting
point above the boiling point teaches noise) but never silently: each one is listed with its
sources in suite_review.csv and counted per task and rule in manifest.json, and
`drop_flagged=False` keeps them, flags attached.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import outliers, rules, tiers
from .aggregate import LONG_COLUMNS

CURATED_COLUMNS = LONG_COLUMNS + ["tier", "corroborated", "flags"]
INPUT_FLAGGED = "input_flagged"
FLAG_ORDER = rules.RULE_CODES + (outliers.FLAG, INPUT_FLAGGED)
REVIEW_COLUMNS = ["smiles", "task", "value", "sources", "tier", "corroborated", "n_records",
                  "spread", "neighbours_median", "n_neighbours", "robust_z", "flags", "detail",
                  "dropped"]


def _derived_inputs_flagged(ann: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """A derived parachor whose surface tension or density is flagged is flagged too, so that
    dropping flagged values never leaves a label computed from a dropped one."""
    derived = ann[(ann["task"] == "parachor") & (ann["sources"] == "derived")]["smiles"]
    if derived.empty:
        return flags.iloc[:0]
    known = set(zip(ann["smiles"], ann["task"]))
    bad = set(zip(flags["smiles"], flags["task"]))
    out = []
    for smi in derived:
        rho = "liquid_density_298" if (smi, "liquid_density_298") in known else "density"
        hit = [t for t in ("surface_tension_298", rho) if (smi, t) in bad]
        if hit:
            out.append((smi, "parachor", INPUT_FLAGGED,
                        "derived from a flagged value: " + ", ".join(hit)))
    return pd.DataFrame(out, columns=["smiles", "task", "flag", "detail"])


def flag_values(rec: pd.DataFrame, long: pd.DataFrame, names: list[str]
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(annotated long of the `names` tasks with `flags`, all flags, outlier statistics).

    `long` may hold more tasks than `names`: the evidence the consistency rules need.
    """
    ann = tiers.annotate(rec, long)
    stats = outliers.neighbour_table(ann)
    keyed = ann.set_index(["smiles", "task"])
    wide = keyed["value"].unstack("task")
    score = keyed["score"].unstack("task")
    sources = keyed["sources"].unstack("task")
    close = stats[stats["n_neighbours"] >= outliers.MIN_NEIGHBOURS]
    zscore = close.set_index(["smiles", "task"])["robust_z"].unstack("task")
    rule_flags = rules.check(wide, score, sources, zscore)
    out_flags = outliers.find_outliers(ann[ann["task"].isin(names)], stats)
    flags = pd.concat([rule_flags, out_flags], ignore_index=True)
    flags = pd.concat([flags, _derived_inputs_flagged(ann, flags)], ignore_index=True)
    flags = flags[flags["task"].isin(names)]
    order = {c: i for i, c in enumerate(FLAG_ORDER)}
    flags = (flags.assign(o=flags["flag"].map(order))
             .sort_values(["smiles", "task", "o"], kind="stable").drop(columns="o")
             .reset_index(drop=True))
    codes = flags.groupby(["smiles", "task"], sort=True)["flag"].agg(";".join)
    ann = ann[ann["task"].isin(names)].reset_index(drop=True)
    key = pd.MultiIndex.from_frame(ann[["smiles", "task"]])
    ann["flags"] = codes.reindex(key, fill_value="").to_numpy(object)
    return ann[CURATED_COLUMNS], flags, stats


def select(ann: pd.DataFrame, drop_flagged: bool, require_corroboration: list[str]
           ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Kept rows, and the per-task numbers dropped as flagged and as uncorroborated."""
    flagged = ann["flags"] != ""
    gone_flag = flagged if drop_flagged else pd.Series(False, index=ann.index)
    gone_corr = (~gone_flag & ann["task"].isin(require_corroboration) & ~ann["corroborated"])
    kept = ann[~gone_flag & ~gone_corr].reset_index(drop=True)
    return (kept, ann.loc[gone_flag, "task"].value_counts(),
            ann.loc[gone_corr, "task"].value_counts())


def review_table(ann: pd.DataFrame, flags: pd.DataFrame, stats: pd.DataFrame,
                 drop_flagged: bool) -> pd.DataFrame:
    """One row per flagged value: what it is, where it came from, why it is flagged."""
    detail = flags.groupby(["smiles", "task"], sort=True)["detail"].agg(" | ".join).reset_index()
    rows = ann[ann["flags"] != ""].merge(detail, on=["smiles", "task"], how="left")
    rows = rows.merge(stats, on=["smiles", "task"], how="left")
    rows["n_neighbours"] = rows["n_neighbours"].fillna(0).astype("int64")
    rows["dropped"] = drop_flagged
    rows = rows.sort_values(["task", "smiles"], kind="stable")
    return rows[REVIEW_COLUMNS].reset_index(drop=True)


def write_review(review: pd.DataFrame, path: Path) -> None:
    review.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")


def report(ann: pd.DataFrame, flags: pd.DataFrame, names: list[str], drop_flagged: bool,
           require_corroboration: list[str], gone_flag: pd.Series, gone_corr: pd.Series,
           kept: pd.DataFrame) -> dict:
    """The manifest's `curation` section: counts per rule and per task, before and after."""
    per_rule = flags.groupby(["flag", "task"]).size()

    def hits(code: str) -> dict:
        hit = per_rule[code] if code in per_rule.index.get_level_values(0) else pd.Series()
        return {"flagged": int(hit.sum()), "per_task": {k: int(v) for k, v in hit.items()}}

    by_rule = {r.code: {**hits(r.code), "tasks": list(r.tasks), "may_flag": list(r.victims),
                        "threshold": r.threshold, "reference": r.reference} for r in rules.RULES}
    by_rule.update({code: hits(code) for code in (outliers.FLAG, INPUT_FLAGGED)})
    tasks = {}
    before = ann["task"].value_counts()
    after = kept["task"].value_counts()
    for t in names:
        a = ann[ann["task"] == t]
        tf = flags[flags["task"] == t]["flag"].value_counts()
        tasks[t] = {"before": int(before.get(t, 0)), "flagged": int((a["flags"] != "").sum()),
                    "flagged_by_rule": {k: int(v) for k, v in sorted(tf.items())},
                    "dropped_flagged": int(gone_flag.get(t, 0)),
                    "dropped_uncorroborated": int(gone_corr.get(t, 0)),
                    "after": int(after.get(t, 0)),
                    "corroborated": int(a["corroborated"].sum()),
                    "tiers": {k: int((a["tier"] == k).sum()) for k in tiers.TIERS}}
    return {"drop_flagged": drop_flagged, "require_corroboration": require_corroboration,
            "rules": by_rule, "tasks": tasks,
            "flagged_values": int((ann["flags"] != "").sum()),
            "review_file": "suite_review.csv"}


def summary_lines(manifest: dict) -> list[str]:
    """What the build kept and dropped, per task and per rule, for the command line."""
    cur = manifest["curation"]
    lines = [f"{'task':32s} {'count':>7s}  {'before':>7s} {'flagged':>7s} {'dropped':>7s}  unit"]
    for name, meta in manifest["tasks"].items():
        t = cur["tasks"][name]
        dropped = t["dropped_flagged"] + t["dropped_uncorroborated"]
        lines.append(f"{name:32s} {meta['count']:7d}  {t['before']:7d} {t['flagged']:7d} "
                     f"{dropped:7d}  {meta['unit']}")
    hits = [f"{code} {r['flagged']}" for code, r in cur["rules"].items() if r["flagged"]]
    lines.append("flagged per rule: " + (", ".join(hits) if hits else "none"))
    uncorroborated = sum(t["dropped_uncorroborated"] for t in cur["tasks"].values())
    if uncorroborated:
        lines.append(f"dropped as uncorroborated ({', '.join(cur['require_corroboration'])}): "
                     f"{uncorroborated}")
    action = ("dropped (keep them with --keep-flagged)" if cur["drop_flagged"]
              else "kept, with reason codes in suite_long.parquet's flags column")
    lines.append(f"{cur['flagged_values']} flagged values {action}; each is listed with its "
                 f"sources in suite_review.csv")
    return lines
