"""Pictures of a training run read back from its ``logs/metrics.csv``: the loss terms' shares."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from molgate.evaluate.plots import plt, save_figure

TERMS = ("auto", "cons", "map", "dis")


def epoch_diagnostics(metrics_csv: str | Path) -> pd.DataFrame:
    """One row per epoch with the ``diag_*`` columns the term diagnostics logged (may be empty)."""
    log = pd.read_csv(metrics_csv)
    columns = [c for c in log.columns if c.startswith("diag_")]
    if not columns or "epoch" not in log:
        return pd.DataFrame()
    rows = log.dropna(subset=columns, how="all")
    return rows.groupby("epoch")[columns].mean()


def term_shares_plot(metrics_csv: str | Path, path: str | Path) -> Path | None:
    """Each alignment term's gradient norm on the encoders relative to the regression's, and each
    term's value, per epoch (two panels). None when the run logged no diagnostics."""
    diag = epoch_diagnostics(metrics_csv)
    terms = [t for t in TERMS if f"diag_{t}_share" in diag]
    if diag.empty or not terms:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110)
    epochs = diag.index.to_numpy() + 1
    for t in terms:
        left.plot(epochs, diag[f"diag_{t}_share"], marker="o", ms=3, label=t)
        right.plot(epochs, diag[f"diag_{t}_value"], marker="o", ms=3, label=t)
    if "diag_reg_value" in diag:
        right.plot(epochs, diag["diag_reg_value"], "k--", label="reg")
    left.set_xlabel("epoch")
    left.set_ylabel("|grad w·l| / |grad l_reg| (encoders)")
    left.set_yscale("log")
    left.set_title("gradient share of each term")
    right.set_xlabel("epoch")
    right.set_ylabel("term value (unweighted)")
    right.set_yscale("log")
    right.set_title("loss terms")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    return save_figure(fig, path)


__all__ = ["epoch_diagnostics", "term_shares_plot"]
