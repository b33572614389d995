"""``molgate pretrain`` on two tiny suite tasks: a model that predict, screen and add-task take,
with its model card, and a task added to it offline."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgate.errors import InputError
from molgate.estimator import PropertyRegressor
from molgate.jobs.add_task import add_task
from molgate.jobs.pretrain import CARD, pretrain
from molgate.methods import GateConfig
from molgate.screen.run import screen

TASKS = ["RON", "MON"]  # octane numbers: two small tasks whose build needs no other task
TINY = dict(hidden_size=32, ffn_hidden_size=32, batch_size=32, gate=GateConfig(latent_size=16, lf_size=16))


@pytest.fixture(scope="module")
def suite_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    result = pretrain(root / "model", tasks=TASKS, max_per_task=40, epochs=1, suite_dir=root / "suite",
                      progress=False, **TINY)
    return result, root


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_pretrain_writes_a_gate_model_with_metrics_and_a_model_card(suite_model):
    result, root = suite_model
    model = result.model_dir
    config = json.loads((model / "config.json").read_text())
    assert config["method"] == "gate" and config["tasks"] == TASKS and config["units"] == ["-", "-"]
    # the cap: 40 sampled per task; a molecule sampled for one task keeps its other labels too
    assert (result.split_counts.loc[TASKS, "train"] >= 40).all()
    assert result.split_counts.loc["(molecules)", "train"] <= 2 * 40
    metrics = json.loads((model / "metrics.json").read_text())
    assert set(metrics) == set(TASKS) and all(metrics[t]["n"] > 0 for t in TASKS)
    manifest = json.loads((model / "suite_manifest.json").read_text())
    assert manifest["options"]["tasks"] == TASKS
    card = (model / CARD).read_text()
    for task in TASKS:
        row = next(line for line in card.splitlines() if line.startswith(f"| {task} |"))
        assert f"{metrics[task]['rmse']:.4g}" in row  # the card shows the measured test RMSE
    for source in manifest["tasks"]["RON"]["sources"]:
        assert f"| {source} |" in card  # every source the model learnt from, with its terms
    assert "training time" in card and result.seconds > 0
    assert (root / "suite" / "suite.parquet").exists()  # kept where asked


def test_the_suite_model_predicts_and_screens(suite_model, tmp_path):
    result, _ = suite_model
    smiles = ["CCCCCCCC", "CC(C)CC(C)(C)C", "c1ccccc1C"]
    pred = PropertyRegressor.load(result.model_dir).predict(smiles)
    assert pred.shape == (3, 2) and np.isfinite(pred).all()
    library = tmp_path / "lib.smi"
    library.write_text("\n".join(smiles) + "\n")
    summary = screen(result.model_dir, [library], tmp_path / "hits.parquet", workers=0, progress=False)
    assert summary.read == 3
    assert set(TASKS) <= set(pd.read_parquet(tmp_path / "hits.parquet").columns)


def test_a_task_is_added_to_the_suite_model_offline_and_the_model_is_untouched(suite_model, tmp_path,
                                                                            freesolv, monkeypatch):
    result, _ = suite_model
    data = freesolv.iloc[:80].rename(columns={"freesolv": "hydration"})[["smiles", "hydration"]]
    data.to_csv(tmp_path / "mine.csv", index=False)
    before = _hashes(result.model_dir)

    def refuse(*args, **kwargs):
        raise OSError("network access during add-task")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    added = add_task(result.model_dir, tmp_path / "mine.csv", "hydration", tmp_path / "with_mine", epochs=1,
                     batch_size=32, progress=False)
    monkeypatch.undo()
    assert _hashes(result.model_dir) == before
    smiles = freesolv["smiles"].iloc[100:110].tolist()
    old = PropertyRegressor.load(result.model_dir).predict(smiles)
    new = PropertyRegressor.load(added.model_dir).predict(smiles)
    assert np.array_equal(old, new[:, :2]) and np.isfinite(new[:, 2]).all()
    assert json.loads((added.model_dir / "config.json").read_text())["tasks"] == [*TASKS, "hydration"]


def test_the_suite_build_is_reused_and_bad_requests_fail_before_any_work(suite_model, tmp_path):
    result, root = suite_model
    built = (root / "suite" / "suite.parquet").stat().st_mtime_ns
    with pytest.raises(InputError, match="unknown task"):
        pretrain(tmp_path / "m", tasks=["RON", "no_such_property"], suite_dir=root / "suite", progress=False)
    with pytest.raises(InputError, match="outside --out"):
        pretrain(tmp_path / "m", tasks=TASKS, suite_dir=tmp_path / "m" / "suite", progress=False)
    again = pretrain(tmp_path / "again", tasks=TASKS, max_per_task=20, epochs=1, suite_dir=root / "suite",
                     progress=False, **TINY)
    assert (root / "suite" / "suite.parquet").stat().st_mtime_ns == built  # not rebuilt
    assert again.tasks == TASKS


def test_score_test_split_is_what_evaluate_writes(suite_model):
    from molgate import api
    from molgate.jobs.evaluate import score_test_split

    model = suite_model[0].model_dir
    score = score_test_split(model)
    assert score.y_true.shape == score.y_pred.shape == (len(score.graphs), len(TASKS))
    np.testing.assert_allclose(score.y_pred, score.estimator.predict(
        pd.read_csv(model / "test_predictions.csv")["smiles"].tolist()), rtol=1e-6)
    assert api.evaluate(model, plots=False) == score.metrics == json.loads((model / "metrics.json").read_text())
