"""What the commands print after their work: tables a person reads in the terminal."""

from __future__ import annotations

from molgate.cli import lazy


def print_metrics(metrics: dict, model_dir) -> None:
    print(lazy.api().metrics_table(metrics).to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"metrics written to {model_dir}/metrics.json, parity plots to {model_dir}/parity/")
