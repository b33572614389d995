"""``molgate data build | summary | split`` on a two-task build of the suite."""

import json

import pandas as pd
import pytest

from molgate.cli.main import main


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    assert main(["data", "build", "--tasks", "dielectric_constant", "hydration_free_energy",
                 "--out", str(out), "--no-progress"]) == 0
    return out


def test_data_build_writes_the_contract_files(suite, capsys):
    wide = pd.read_parquet(suite / "suite.parquet")
    assert list(wide.columns) == ["smiles", "dielectric_constant", "hydration_free_energy"]
    manifest = json.loads((suite / "manifest.json").read_text())
    meta = manifest["tasks"]["hydration_free_energy"]
    assert meta["count"] == wide["hydration_free_energy"].notna().sum() == 639
    assert meta["unit"] == "kcal/mol" and {"count", "unit", "kind", "sources"} <= set(meta)
    assert (suite / "suite_long.parquet").exists()


def test_data_summary_prints_counts_and_writes_heatmap(suite, capsys):
    assert main(["data", "summary", "--data", str(suite)]) == 0
    out = capsys.readouterr().out
    assert "hydration_free_energy" in out and "639" in out
    assert (suite / "task_overlap.png").read_bytes()[:4] == b"\x89PNG"


def test_data_split_then_train_on_the_suite(suite, tmp_path):
    assert main(["data", "split", "--data", str(suite), "--split", "scaffold", "--seeds", "0"]) == 0
    split = suite / "splits" / "scaffold_seed0.json"
    counts = json.loads(split.read_text())["counts"]
    assert counts["dielectric_constant"]["test"] > 0.08 * 933
    assert main(["train", "--data", str(suite / "suite.parquet"), "--split-file", str(split),
                 "--out", str(tmp_path / "m"), "--epochs", "1", "--hidden-size", "16",
                 "--ffn-hidden-size", "16", "--no-progress"]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["units"] == ["-", "kcal/mol"]  # read from the suite's manifest


def test_unknown_task_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "build", "--tasks", "boiling_pint", "--out", str(tmp_path)]) == 2
    assert "boiling_pint" in capsys.readouterr().err


def test_data_build_drops_flagged_by_default_and_says_what(tmp_path, capsys):
    drop, keep = tmp_path / "drop", tmp_path / "keep"
    assert main(["data", "build", "--tasks", "RON", "MON", "--out", str(drop), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "flagged per rule: octane_sensitivity" in out and "suite_review.csv" in out
    assert main(["data", "build", "--tasks", "RON", "MON", "--out", str(keep), "--no-progress",
                 "--keep-flagged", "--require-corroboration", "RON"]) == 0
    m_drop = json.loads((drop / "manifest.json").read_text())
    m_keep = json.loads((keep / "manifest.json").read_text())
    flagged = m_drop["curation"]["tasks"]["MON"]["flagged"]
    assert m_keep["tasks"]["MON"]["count"] - m_drop["tasks"]["MON"]["count"] == flagged > 0
    assert m_keep["options"]["require_corroboration"] == ["RON"]
    assert m_keep["tasks"]["RON"]["count"] == m_keep["curation"]["tasks"]["RON"]["corroborated"]
    assert main(["data", "build", "--tasks", "RON", "--out", str(tmp_path / "x"),
                 "--require-corroboration", "logP"]) == 2
    assert "logP" in capsys.readouterr().err
