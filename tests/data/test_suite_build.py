"""End-to-end checks of build_suite / summarize_suite on a small, fast subset of tasks."""
import hashlib
import json

import pandas as pd
import pytest

from molgate.data.suite import PRESETS, TASKS, build_suite, resolve_tasks, summarize_suite
from molgate.data.suite.tables import PREDICTION_TABLES

SMALL = ["dielectric_constant", "hydration_free_energy", "logP", "RON"]


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    a = tmp_path_factory.mktemp("suite_a")
    b = tmp_path_factory.mktemp("suite_b")
    ma = build_suite(SMALL, a, progress=False)
    mb = build_suite(SMALL, b, progress=False)
    return a, b, ma, mb


def test_build_is_byte_identical(builds):
    a, b, ma, mb = builds
    for name in ("suite.parquet", "suite_long.parquet", "suite_review.csv", "manifest.json"):
        assert _sha(a / name) == _sha(b / name), name
    assert ma["sha256"]["suite.parquet"] == _sha(a / "suite.parquet")


def test_outputs_shape_and_manifest(builds):
    a, _, manifest, _ = builds
    wide = pd.read_parquet(a / "suite.parquet")
    long = pd.read_parquet(a / "suite_long.parquet")
    assert list(wide.columns) == ["smiles"] + [t for t in TASKS if t in SMALL]
    assert wide["smiles"].is_unique and wide["smiles"].is_monotonic_increasing
    assert list(long.columns) == ["smiles", "task", "value", "n_records", "spread", "sources",
                                  "tier", "corroborated", "flags"]
    assert (long["n_records"] >= 1).all() and (long["spread"] >= 0).all()
    for task in SMALL:
        meta = manifest["tasks"][task]
        assert meta["count"] == int(wide[task].notna().sum()) > 100
        assert meta["unit"] == TASKS[task].unit
        assert set(meta["sources"]) <= set(TASKS[task].sources)
    assert manifest["tasks"]["hydration_free_energy"]["count"] > 600
    assert json.loads((a / "manifest.json").read_text()) == manifest
    assert {"chemicals", "rdkit", "molgate"} <= set(manifest["versions"])


def test_no_prediction_table_was_read(builds):
    manifest = builds[2]
    tables = set(manifest["chemicals_tables"])
    assert tables and not tables & PREDICTION_TABLES
    assert not any(w in t.lower() for t in tables for w in ("joback", "psi4", "predictions",
                                                            "ann.tsv", "wilson", "fedors"))


def test_ethanol_row(builds):
    wide = pd.read_parquet(builds[0] / "suite.parquet").set_index("smiles")
    assert wide.loc["CCO", "dielectric_constant"] == pytest.approx(25.3, abs=0.5)
    assert wide.loc["CCO", "logP"] == pytest.approx(-0.31, abs=0.05)


def test_exclude_source_and_measured_only(tmp_path):
    m = build_suite(["logP", "dielectric_constant"], tmp_path, exclude_sources=["syrres"],
                    measured_only=True, stereo="remove", progress=False)
    assert m["tasks"]["logP"]["sources"] == ["CRC"]
    assert m["options"]["exclude_sources"] == ["Syrres"]
    long = pd.read_parquet(tmp_path / "suite_long.parquet")
    assert not long["smiles"].str.contains("@").any()
    with pytest.raises(ValueError, match="valid sources"):
        build_suite(["logP"], tmp_path, exclude_sources=["NoSuchSource"], progress=False)
    with pytest.raises(ValueError, match="no values left for hydration_free_energy"):
        build_suite(["hydration_free_energy"], tmp_path, exclude_sources=["FreeSolv"],
                    progress=False)


def test_summarize_suite(builds, tmp_path):
    png = tmp_path / "overlap.png"
    table = summarize_suite(builds[0], out_png=png)
    assert list(table.index) == [t for t in TASKS if t in SMALL]
    assert {"count", "unit", "min", "median", "max"} <= set(table.columns)
    assert table.loc["logP", "min"] <= table.loc["logP", "median"] <= table.loc["logP", "max"]
    assert png.stat().st_size > 1000


def test_presets_and_resolve_tasks():
    assert len(PRESETS["reference10"]) == 10
    assert set(PRESETS["reference10"]) <= set(TASKS)
    assert resolve_tasks("all") == list(TASKS) and len(TASKS) >= 40
    assert resolve_tasks(["melting_point", "reference10"])[0] == "melting_point"
    assert resolve_tasks("logP,density") == ["density", "logP"]
    with pytest.raises(ValueError, match="melting_point"):
        resolve_tasks(["melting_pont"])
