"""Training on several processes through Lightning's DDP (two CPU processes, gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from molgate import api


def test_two_process_ddp_training_saves_one_working_model(tmp_path, two_task_csv):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "molgate.cli.main", "train", "--data", str(two_task_csv), "--targets",
           "freesolv", "doubled", "--method", "mtl", "--out", str(out), "--hidden-size", "32",
           "--ffn-hidden-size", "32", "--epochs", "2", "--batch-size", "16", "--devices", "2",
           "--accelerator", "cpu", "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("model saved to") == 1  # rank 0 reports, the other rank stays quiet
    config = json.loads((out / "config.json").read_text())
    assert config["fit"]["all"]["world_size"] == 2
    assert config["training"]["devices"] == 2
    pred = api.PropertyRegressor.load(out).predict(["CCO", "c1ccccc1"])
    assert pred.shape == (2, 2) and np.isfinite(pred).all()


def test_learned_ratios_refuse_ddp(tmp_path, two_task_csv):
    with pytest.raises(ValueError, match="one process"):
        api.train(two_task_csv, targets=["freesolv", "doubled"], method="gate", out=tmp_path / "x",
                  transfer_ratios="learned", devices=2, epochs=1, progress=False)
