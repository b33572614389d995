"""``molgate export-chemprop``: the trained D-MPNN handed to ``chemprop train --from-foundation``."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.models import MPNN

from molgate import api
from molgate.cli.main import main
from molgate.errors import InputError
from molgate.featurize.graphs import featurize
from molgate.jobs.export_chemprop import chemprop_options
from molgate.train.checkpoint import load_model

SMILES = ["CCO", "c1ccccc1O", "C[N+](C)(C)C", "Cl", "C/C=C/C(=O)O", "CC.O"]


def test_chemprop_reads_the_exported_encoder_and_computes_the_same_fingerprints(tiny_two_task_model, tmp_path):
    out, options = api.export_chemprop(tiny_two_task_model, tmp_path / "fm.pt")
    assert options == ["--multi-hot-atom-featurizer-mode", "V2"]
    exported = MPNN.load_from_file(out, map_location="cpu").eval()  # chemprop's own loader (its format)
    model, _ = load_model(tiny_two_task_model)
    bmg = BatchMolGraph(featurize(SMILES, progress=False))
    with torch.no_grad():
        theirs = exported.agg(exported.message_passing(bmg), bmg.batch)
        ours = model.encoder(bmg)
    assert torch.allclose(theirs, ours, atol=1e-6)


def test_export_refuses_to_overwrite_and_names_the_stl_task(tiny_two_task_model, tmp_path, capsys):
    target = tmp_path / "fm.pt"
    target.write_text("keep me")
    with pytest.raises(InputError, match="exists; give --overwrite"):
        api.export_chemprop(tiny_two_task_model, target)
    assert target.read_text() == "keep me"
    assert main(["export-chemprop", "--model", str(tiny_two_task_model), "--out", str(target), "--overwrite"]) == 0
    assert "chemprop train --from-foundation" in capsys.readouterr().out
    assert main(["export-chemprop", "--model", str(tiny_two_task_model), "--out", str(tmp_path / "b.pt"),
                 "--task", "freesolv"]) == 2
    assert "--task is for STL models" in capsys.readouterr().err
    assert chemprop_options({"atom_featurizer": "v1", "add_hydrogens": True}) == [
        "--multi-hot-atom-featurizer-mode", "V1", "--add-h"]


def test_chemprop_train_fine_tunes_from_the_export(tiny_two_task_model, two_task_csv, tmp_path):
    out, options = api.export_chemprop(tiny_two_task_model, tmp_path / "fm.pt")
    exe = Path(sys.executable).with_name("chemprop")
    run = subprocess.run([str(exe), "train", "--data-path", str(two_task_csv), "--smiles-columns", "smiles",
                          "--target-columns", "freesolv", "--from-foundation", str(out), *options,
                          "--epochs", "1", "--warmup-epochs", "0", "--output-dir", str(tmp_path / "cp"), "--num-workers", "0",
                          "--accelerator", "cpu"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert any((tmp_path / "cp").rglob("best*.pt"))


def test_gate_exports_its_shared_trunk_and_refuses_separate_encoders():
    from molgate.featurize.graphs import feature_dims
    from molgate.jobs.export_chemprop import exported_encoder
    from molgate.methods import EncoderConfig, GATEModel, GateConfig

    d_v, d_e = feature_dims()
    small = EncoderConfig(hidden_size=16, ffn_hidden_size=16)
    config = {"method": "gate", "tasks": ["a", "b"]}
    trunk = GATEModel(2, d_v, d_e, small, GateConfig(latent_size=8, lf_size=8, sharing="trunk"))
    assert exported_encoder(trunk, config, None) is trunk.trunk
    separate = GATEModel(2, d_v, d_e, small, GateConfig(latent_size=8, lf_size=8, sharing="separate"))
    with pytest.raises(InputError, match="one D-MPNN per task"):
        exported_encoder(separate, config, None)


def test_stl_exports_the_named_tasks_encoder():
    from molgate.featurize.graphs import feature_dims
    from molgate.jobs.export_chemprop import exported_encoder
    from molgate.methods import EncoderConfig
    from molgate.methods.stl import STLModel

    d_v, d_e = feature_dims()
    stl = STLModel(2, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16))
    config = {"method": "stl", "tasks": ["a", "b"]}
    assert exported_encoder(stl, config, "b") is stl.members[1].encoder
    for task, message in ((None, "name one with --task"), ("c", "not one of the model's tasks")):
        with pytest.raises(InputError, match=message):
            exported_encoder(stl, config, task)
