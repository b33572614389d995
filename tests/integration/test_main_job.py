"""The README's main job, shrunk: builds the reference10 suite, trains MTL and GATE, prints tables."""

import json

from molgate.jobs.main_job import main


def test_main_job_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "main"
    assert main(["--out", str(out), "--max-epochs", "1", "--max-per-task", "20"]) == 0
    text = capsys.readouterr().out
    assert "MTL (scaffold split" in text and "GATE (scaffold split" in text
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"mtl", "gate"}
    assert len(results["metrics"]["gate"]) == 10
    assert (out / "test_rmse.png").exists() and (out / "gate" / "lf_frame.png").exists()
    summary = [line for line in text.splitlines() if line.startswith("summary: GATE beats MTL on ")][-1]
    wins = sum(results["metrics"]["gate"][t]["rmse"] < results["metrics"]["mtl"][t]["rmse"]
               for t in results["metrics"]["gate"])
    assert f"on {wins}/10 tasks" in summary
