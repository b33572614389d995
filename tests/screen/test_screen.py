"""``molgate screen``: streaming, rejects, --where, ensembles, the domain flag, and resuming."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgate import api
from molgate.cli.main import main
from molgate.errors import InputError
from molgate.screen.reader import count_rows, iter_chunks
from molgate.screen.where import WhereError, parse_where

SMALL = dict(hidden_size=32, ffn_hidden_size=32, epochs=2, batch_size=32, progress=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory, two_task_csv) -> Path:
    out = tmp_path_factory.mktemp("screen") / "mtl"
    api.train(two_task_csv, targets=["freesolv", "doubled"], method="mtl", out=out, seed=0, **SMALL)
    return out


@pytest.fixture(scope="module")
def member(tmp_path_factory, two_task_csv) -> Path:
    out = tmp_path_factory.mktemp("screen") / "mtl-seed1"
    api.train(two_task_csv, targets=["doubled", "freesolv"], method="mtl", out=out, seed=1, **SMALL)
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory, freesolv) -> Path:
    """300 molecules as CSV, with an invalid and an empty SMILES at known rows."""
    smiles = freesolv["smiles"].iloc[:300].tolist()
    smiles[10] = "C1CC"  # row 11
    smiles[200] = ""  # row 201
    path = tmp_path_factory.mktemp("lib") / "lib.csv"
    pd.DataFrame({"id": range(300), "smiles": smiles}).to_csv(path, index=False)
    return path


def test_every_valid_molecule_is_predicted_and_invalid_ones_are_reported(model, library, tmp_path):
    out = tmp_path / "hits.parquet"
    summary = api.screen(model, [library], out, chunk_size=64, workers=0, progress=False)
    frame = pd.read_parquet(out)
    assert summary.read == 300 and summary.invalid == 2 and summary.hits == 298 == len(frame)
    assert list(frame.columns) == ["smiles", "library_file", "row", "freesolv", "doubled",
                                   "nn_similarity", "in_domain"]
    assert sorted(set(range(1, 301)) - set(frame["row"])) == [11, 201]
    rejects = pd.read_csv(summary.rejects_file, keep_default_na=False)
    assert rejects["row"].tolist() == [11, 201] and rejects["smiles"].tolist() == ["C1CC", ""]
    assert rejects["reason"].str.contains("SMILES").all()
    # the same numbers as molgate predict
    expected = api.predict(model, library, on_invalid="skip")
    expected = expected[expected["reason"] == ""]  # predict keeps the invalid rows, empty
    np.testing.assert_allclose(frame[["freesolv", "doubled"]].to_numpy(),
                               expected[["freesolv", "doubled"]].to_numpy(), rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "hits.parquet.parts").exists()


def test_worker_processes_give_the_same_output(model, library, tmp_path):
    a = api.screen(model, [library], tmp_path / "a.parquet", chunk_size=50, workers=0, progress=False)
    b = api.screen(model, [library], tmp_path / "b.parquet", chunk_size=50, workers=2, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(a.out), pd.read_parquet(b.out))


def test_where_keeps_only_hits(model, library, tmp_path):
    out = tmp_path / "w.parquet"
    median = float(api.predict(model, library, on_invalid="skip")["freesolv"].median())
    summary = api.screen(model, [library], out, where=f"freesolv < {median} and doubled > -1e9",
                         workers=0, progress=False)
    frame = pd.read_parquet(out)
    assert 100 < len(frame) < 200 and summary.hits == len(frame)
    assert (frame["freesolv"] < median).all()


def test_unknown_property_fails_before_any_work(model, library, tmp_path):
    out = tmp_path / "x.parquet"
    with pytest.raises(WhereError, match="unknown property 'boiling_point'"):
        api.screen(model, [library], out, where="boiling_point > 450", progress=False)
    assert not out.exists() and not (tmp_path / "x.parquet.parts").exists()


def test_where_parser_rejects_code():
    for bad in ("__import__('os')", "a.b > 1", "a > 'x'", "a + 1", "a >"):
        with pytest.raises(WhereError):
            parse_where(bad, ["a"])
    crit = parse_where("not (a < 1 or a >= 3) and 0 < b < 2", ["a", "b"])
    mask = crit.mask(pd.DataFrame({"a": [0.0, 1.0, 2.0, np.nan], "b": [1.0, 1.0, 5.0, 1.0]}))
    assert mask.tolist() == [False, True, False, False]


def test_ensemble_gives_mean_and_std(model, member, library, tmp_path):
    out = tmp_path / "e.parquet"
    api.screen(model, [library], out, ensemble=[member], workers=0, progress=False)
    frame = pd.read_parquet(out)
    assert {"freesolv", "freesolv_std", "doubled", "doubled_std"} <= set(frame.columns)
    one = api.predict(model, library, on_invalid="skip").query("reason == ''")  # the valid rows
    two = api.predict(member, library, on_invalid="skip").query("reason == ''")
    for task in ("freesolv", "doubled"):  # the member's tasks come in the other order
        both = np.stack([one[task], two[task]])
        np.testing.assert_allclose(frame[task], both.mean(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(frame[f"{task}_std"], both.std(0), rtol=1e-4, atol=1e-5)
    assert (frame["freesolv_std"] > 0).any()


def test_training_molecules_are_in_domain(model, library, tmp_path):
    import json

    out = tmp_path / "d.parquet"
    api.screen(model, [library], out, workers=0, progress=False)
    frame = pd.read_parquet(out)
    train = set(json.loads((model / "split.json").read_text())["train"])
    from molgate.data.table import canonicalize

    seen = frame["smiles"].map(canonicalize).isin(train)
    assert seen.any() and (frame.loc[seen, "nn_similarity"] == 1.0).all()
    assert frame["nn_similarity"].between(0, 1).all()
    assert (frame["in_domain"] == (frame["nn_similarity"] >= 0.3)).all()
    no_domain = api.screen(model, [library], tmp_path / "n.parquet", domain=False, workers=0, progress=False)
    assert "nn_similarity" not in pd.read_parquet(no_domain.out).columns


def test_several_files_and_formats(model, freesolv, tmp_path):
    smiles = freesolv["smiles"].iloc[:40].tolist()
    smi = tmp_path / "a.smi.gz"
    with gzip.open(smi, "wt") as fh:
        fh.write("".join(f"{s} mol{i}\n" for i, s in enumerate(smiles[:25])))
    parquet = tmp_path / "b.parquet"
    pd.DataFrame({"smiles": smiles[25:]}).to_parquet(parquet)
    assert count_rows([smi, parquet]) == 40
    chunks = list(iter_chunks([smi, parquet], chunk_size=10))
    assert [len(c.smiles) for c in chunks] == [10, 10, 5, 10, 5]  # chunks do not span files
    summary = api.screen(model, [smi, parquet], tmp_path / "o.parquet", chunk_size=10, workers=0,
                         progress=False)
    frame = pd.read_parquet(summary.out)
    assert frame["smiles"].tolist() == smiles
    assert frame["library_file"].tolist() == [0] * 25 + [1] * 15
    assert frame["row"].tolist() == list(range(1, 26)) + list(range(1, 16))


def test_bad_library_is_a_clear_error(model, tmp_path):
    with pytest.raises(InputError, match="not found"):
        api.screen(model, [tmp_path / "missing.csv"], tmp_path / "o.parquet", progress=False)
    (tmp_path / "lib.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown library format"):
        api.screen(model, [tmp_path / "lib.xlsx"], tmp_path / "o.parquet", progress=False)
    with pytest.raises(InputError, match="Parquet"):
        api.screen(model, [tmp_path / "lib.xlsx"], tmp_path / "o.csv", progress=False)


def _big_library(freesolv, path: Path, copies: int = 12) -> Path:
    smiles = freesolv["smiles"].tolist() * copies
    path.write_text("".join(s + "\n" for s in smiles))
    return path


@pytest.mark.parametrize("workers", [0, 2])
def test_killed_screen_resumes_without_duplicates_or_gaps(model, freesolv, tmp_path, workers):
    lib = _big_library(freesolv, tmp_path / "big.smi")
    n = count_rows([lib])
    reference = api.screen(model, [lib], tmp_path / "ref.parquet", chunk_size=40, workers=0,
                           domain=False, progress=False)
    out = tmp_path / "killed.parquet"
    parts = tmp_path / "killed.parquet.parts"
    cmd = [sys.executable, "-m", "molgate.cli.main", "screen", "--model", str(model), "--library",
           str(lib), "--out", str(out), "--chunk-size", "40", "--workers", str(workers), "--no-domain",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list(parts.glob("part-*.parquet"))) >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the screen finished before it could be killed"
    done_before = len(list(parts.glob("part-*.parquet")))
    assert not out.exists() and 3 <= done_before < (n + 39) // 40
    summary = api.screen(model, [lib], out, chunk_size=40, workers=workers, domain=False, progress=False)
    # workers orphaned by the kill may finish the chunk they held: resumed, not repeated
    assert summary.resumed_chunks >= done_before and summary.read == n
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference.out))
    # a finished screen run again with the same arguments does nothing
    again = api.screen(model, [lib], out, chunk_size=40, workers=0, domain=False, progress=False)
    assert again.hits == summary.hits


def test_resume_with_other_settings_is_refused(model, library, tmp_path):
    out = tmp_path / "r.parquet"
    api.screen(model, [library], out, workers=0, progress=False)
    with pytest.raises(InputError, match="different screen"):
        api.screen(model, [library], out, where="freesolv < 0", workers=0, progress=False)


def test_screen_cli(model, library, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    assert main(["screen", "--model", str(model), "--library", str(library), "--out", str(out),
                 "--where", "freesolv > -1e9", "--workers", "1", "--chunk-size", "100", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "300 molecule(s) read, 2 invalid" in printed and "invalid SMILES:" in printed
    assert len(pd.read_parquet(out)) == 298
    assert main(["screen", "--model", str(model), "--library", str(library), "--out",
                 str(tmp_path / "y.parquet"), "--where", "nonsense > 1", "--no-progress"]) == 2
    assert "unknown property 'nonsense'" in capsys.readouterr().err


def test_ray_engine_matches_the_single_process_run(model, freesolv, tmp_path):
    """A local Ray cluster (2 CPUs) through Ray Data gives the same rows as the local engine."""
    pytest.importorskip("ray")
    smiles = freesolv["smiles"].iloc[:90].tolist()
    smiles[5] = "not-a-smiles"
    smi = tmp_path / "a.smi"
    smi.write_text("".join(s + "\n" for s in smiles[:50]))
    parquet = tmp_path / "b.parquet"
    pq_table = pd.DataFrame({"smiles": smiles[50:70]})
    pq_table.to_parquet(parquet, row_group_size=7)
    csv = tmp_path / "c.csv.gz"
    pd.DataFrame({"smiles": smiles[70:]}).to_csv(csv, index=False)
    files = [smi, parquet, csv]
    local = api.screen(model, files, tmp_path / "local.parquet", chunk_size=8, workers=0, progress=False)
    ray_run = api.screen(model, files, tmp_path / "ray.parquet", chunk_size=8, workers=2, engine="ray",
                         progress=False)
    assert ray_run.read == local.read == 90 and ray_run.invalid == local.invalid == 1
    pd.testing.assert_frame_equal(pd.read_parquet(ray_run.out), pd.read_parquet(local.out))
    assert pd.read_csv(ray_run.rejects_file)["row"].tolist() == [6]


def test_example_summary_script_reads_a_screen(model, library, tmp_path):
    out = tmp_path / "s.parquet"
    api.screen(model, [library], out, workers=0, progress=False)
    script = Path(__file__).resolve().parents[2] / "examples" / "summarize_screen.py"
    proc = subprocess.run([sys.executable, str(script), str(out), "--out", str(tmp_path / "h.png")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "298 hit(s)" in proc.stdout and (tmp_path / "h.png").stat().st_size > 0


def test_bf16_precision_stays_close_to_fp32(model, library, tmp_path):
    exact = api.screen(model, [library], tmp_path / "a.parquet", workers=0, domain=False, progress=False)
    fast = api.screen(model, [library], tmp_path / "b.parquet", workers=0, domain=False, progress=False,
                      precision="bf16")
    a, b = pd.read_parquet(exact.out), pd.read_parquet(fast.out)
    assert list(a.columns) == list(b.columns) and a["row"].tolist() == b["row"].tolist()
    label_std = api.PropertyRegressor.load(model).model_.scaler.std.numpy()
    for k, task in enumerate(("freesolv", "doubled")):
        deviation = (b[task] - a[task]).abs()
        assert deviation.max() < 0.02 * label_std[k]  # far below the spread of the property
        assert deviation.max() > 0  # bf16 did run
    with pytest.raises(ValueError, match="precision"):
        api.screen(model, [library], tmp_path / "c.parquet", precision="fp8", progress=False)


def test_screen_cli_options_reach_the_screen(model, member, freesolv, tmp_path):
    lib = tmp_path / "lib.csv"
    pd.DataFrame({"SMILES": freesolv["smiles"].iloc[:60]}).to_csv(lib, index=False)
    out = tmp_path / "o.parquet"
    assert main(["screen", "--model", str(model), "--ensemble", str(member), "--library", str(lib),
                 "--smiles-column", "SMILES", "--out", str(out), "--domain-threshold", "0.9",
                 "--batch-size", "7", "--workers", "0", "--no-progress"]) == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 60 and {"freesolv_std", "doubled_std"} <= set(frame.columns)
    assert (frame["in_domain"] == (frame["nn_similarity"] >= 0.9)).all()
    assert main(["screen", "--model", str(model), "--library", str(lib), "--smiles-column", "SMILES",
                 "--out", str(tmp_path / "n.parquet"), "--no-domain", "--workers", "0", "--no-progress"]) == 0
    assert "nn_similarity" not in pd.read_parquet(tmp_path / "n.parquet").columns


def test_bf16_on_a_cpu_without_bf16_hardware_warns(model, library, tmp_path, monkeypatch, caplog):
    import molgate.screen.run as run

    monkeypatch.setattr(run, "cpu_has_native_bf16", lambda: False)
    with caplog.at_level("WARNING", logger="molgate"):
        api.screen(model, [library], tmp_path / "w.parquet", workers=0, domain=False, progress=False,
                   precision="bf16")
    assert "no bfloat16 hardware" in caplog.text
    caplog.clear()
    monkeypatch.setattr(run, "cpu_has_native_bf16", lambda: True)
    with caplog.at_level("WARNING", logger="molgate"):
        api.screen(model, [library], tmp_path / "v.parquet", workers=0, domain=False, progress=False,
                   precision="bf16")
    assert "no bfloat16 hardware" not in caplog.text


def test_cpu_bf16_detection_answers():
    from molgate.screen.models import cpu_has_native_bf16

    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        assert cpu_has_native_bf16()
    elif flags:
        assert not cpu_has_native_bf16()


def test_chunk_screener_streams_batches_with_the_same_result(model, freesolv, tmp_path):
    from dataclasses import asdict

    from molgate.screen.chunk_screener import ChunkScreener
    from molgate.screen.prepare import prepare_chunk
    from molgate.screen.reader import LibraryChunk
    from molgate.screen.output import ScreenSettings

    smiles = freesolv["smiles"].iloc[:40].tolist()
    smiles[3], smiles[17] = "not-a-smiles", ""
    chunk = LibraryChunk(5, "lib.smi", list(range(1, 41)), smiles)
    settings = ScreenSettings(batch_size=7)
    screener = ChunkScreener([str(model)], asdict(settings), smiles[20:], str(tmp_path), ["lib.smi"])
    prepared, preds = screener.predict(chunk)
    whole = prepare_chunk(chunk)  # the same worker state: one piece, one prediction
    expected = screener.models.predict(whole.graphs, 1024)
    assert prepared.rows == whole.rows and prepared.smiles == whole.smiles and prepared.graphs == []
    assert [r["row"] for r in prepared.rejects] == [4, 18] and prepared.n_read == 40
    np.testing.assert_array_equal(prepared.similarity, whole.similarity)
    np.testing.assert_allclose(preds, expected, rtol=1e-5, atol=1e-5)
    assert screener(chunk) == 40 and (tmp_path / "part-00000005.parquet").exists()
