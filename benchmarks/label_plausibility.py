"""How many boiling-point labels are physically implausible, and how much test error they carry.

Each boiling-point label of a suite is compared with the Joback group-contribution estimate that
ships in ``chemicals`` (a model output: never a label, see molgate/data/suite/tables.py); a label
below ``--ratio`` times the estimate is flagged. Joback overestimates Tb for large molecules, so a
flag is a suspect, not a verdict: the table shows sources and examples to read. Melting points
above the estimate by more than ``--tm-margin`` K are counted too (the ``tm_ge_tb`` rule needs a
measured Tb). With ``--benchmark DIR`` the boiling-point test RMSE of every finished run is
recomputed without the flagged molecules.

    cd benchmarks && ../.venv/bin/python label_plausibility.py \
        --suite results/reference10_full/suite/suite_long.parquet --benchmark results/reference10_full
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import chemicals
import numpy as np
import pandas as pd

from molgate.data.suite.identifiers import classify_cas


def joback_by_smiles() -> pd.DataFrame:
    table = pd.read_csv(os.path.join(os.path.dirname(chemicals.__file__), "Misc", "joback_predictions.tsv"), sep="\t")
    rows = []
    for cas, tb, tm in zip(table["CAS"], table["Tb"], table["Tm"]):
        verdict = classify_cas(int(cas))
        if verdict.accepted:
            rows.append((verdict.smiles, tb, tm))
    return pd.DataFrame(rows, columns=["smiles", "tb_joback", "tm_joback"]).drop_duplicates("smiles").set_index("smiles")


def run_rmse(folder: Path, flagged: set[str]) -> list[dict]:
    out = []
    for path in sorted(folder.glob("runs/*/seed*/*/test_predictions.csv")):
        preds = pd.read_csv(path)
        bp = preds[preds["task"] == "boiling_point"]
        if bp.empty:
            continue
        keep = ~bp["smiles"].isin(flagged)
        err = (bp["y_pred"] - bp["y_true"]).to_numpy()
        split, seed, method = path.parts[-4], path.parts[-3], path.parts[-2]
        out.append({"split": split, "seed": seed, "method": method, "test": int(len(bp)),
                    "flagged_in_test": int((~keep).sum()), "rmse_all": float(np.sqrt(np.mean(err ** 2))),
                    "rmse_without_flagged": float(np.sqrt(np.mean(err[keep.to_numpy()] ** 2)))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, help="a suite_long.parquet (one row per smiles, task)")
    ap.add_argument("--ratio", type=float, default=0.65, help="flag Tb below this times Joback's Tb")
    ap.add_argument("--tm-margin", type=float, default=50.0, help="flag Tm above Joback's Tb by this (K)")
    ap.add_argument("--benchmark", default=None, help="a benchmark folder: bp test RMSE without the flags")
    ap.add_argument("--out", default="results/label_plausibility.json")
    a = ap.parse_args()
    if not 0 < a.ratio < 1:
        ap.error("--ratio must be in (0, 1)")
    long = pd.read_parquet(a.suite)
    joback = joback_by_smiles()
    bp = long[long["task"] == "boiling_point"].set_index("smiles").join(joback, how="inner")
    bp["ratio"] = bp["value"] / bp["tb_joback"]
    flagged = bp[bp["ratio"] < a.ratio].sort_values("ratio")
    tm = long[long["task"] == "melting_point"].set_index("smiles").join(joback, how="inner")
    tm_flagged = tm[tm["value"] > tm["tb_joback"] + a.tm_margin]
    result = {
        "suite": a.suite, "ratio": a.ratio, "tm_margin_K": a.tm_margin,
        "boiling_point": {"labels": int((long["task"] == "boiling_point").sum()), "with_joback": int(len(bp)),
                          "flagged": int(len(flagged)),
                          "ratio_quantiles": {str(q): float(bp["ratio"].quantile(q)) for q in (0.01, 0.05, 0.5, 0.95, 0.99)},
                          "flagged_by_source": flagged["sources"].value_counts().to_dict(),
                          "flagged_corroborated": int(flagged["corroborated"].sum()),
                          "examples": [{"smiles": s, "label_K": float(r.value), "joback_K": float(r.tb_joback),
                                        "sources": r.sources} for s, r in flagged.head(15).iterrows()]},
        "melting_point": {"with_joback": int(len(tm)), "above_joback_tb": int(len(tm_flagged)),
                          "by_source": tm_flagged["sources"].value_counts().to_dict()},
    }
    print(f"boiling point: {len(flagged)} of {len(bp)} labels with a Joback estimate are below "
          f"{a.ratio} x Joback Tb ({int(flagged['corroborated'].sum())} corroborated)")
    print(flagged["sources"].value_counts().head(6).to_string())
    print(f"melting point: {len(tm_flagged)} of {len(tm)} above Joback Tb + {a.tm_margin:.0f} K")
    if a.benchmark:
        rows = run_rmse(Path(a.benchmark), set(flagged.index))
        result["benchmark"] = {"folder": a.benchmark, "runs": rows}
        frame = pd.DataFrame(rows)
        if len(frame):
            summary = frame.groupby(["split", "method"])[["flagged_in_test", "rmse_all", "rmse_without_flagged"]].mean()
            print("\nboiling-point test RMSE (K), mean over seeds, with and without the flagged molecules:")
            print(summary.round(2).to_string())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1))
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
