"""The CLI's small modules on their own: the add-task sub-command and the metrics printout."""

from __future__ import annotations

import argparse

from molgate.cli.add_task import alignment_overrides, cmd_add_task, register
from molgate.cli.output import print_metrics


def test_add_task_register_wires_its_options_and_command():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    a = parser.parse_args(["add-task", "--model", "m", "--data", "d.csv", "--target", "t", "--out", "o"])
    assert a.func is cmd_add_task
    # the shared training options come along, and the cheap estimates are the defaults
    assert (a.epochs, a.batch_size, a.map_sources, a.perturb_molecules) == (50, 64, 1, 16)
    assert not a.freeze_trunk and a.source_weights == "uniform"
    assert (a.align_molecules, a.latent_size, a.transfer_layers) == (0, 0, None)  # the pre-trained widths and depths
    assert alignment_overrides(a) == {}  # the pre-trained model's loss settings
    a = parser.parse_args(["add-task", "--model", "m", "--data", "d.csv", "--target", "t", "--out", "o",
                           "--gamma", "1", "--alignment-form", "raw"])
    assert alignment_overrides(a) == {"gamma": 1.0, "form": "raw"}


def test_print_metrics_prints_a_row_per_task_and_where_they_are(capsys, tmp_path):
    print_metrics({"logP": {"n": 3, "rmse": 0.5, "mae": 0.4, "r2": 0.9, "pearson": 0.95}, "pka": None}, tmp_path)
    out = capsys.readouterr().out
    assert "logP" in out and "0.5" in out and "pka" in out
    assert f"{tmp_path}/metrics.json" in out
