"""``mean+norm`` pooling (ours): Chemprop's mean and norm side by side, on every path that pools."""

import numpy as np
import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.agg import MeanAggregation, NormAggregation
from rdkit import Chem

from molgate import api
from molgate.benchmark.plan import BenchmarkConfig
from molgate.cli.main import AGGREGATION_NAMES, main
from molgate.errors import InputError
from molgate.estimator import PropertyRegressor
from molgate.featurize.graphs import feature_dims
from molgate.jobs.export_chemprop import export_chemprop
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.mtl import MTLModel
from molgate.nn.dmpnn import MoleculeEncoder
from molgate.nn.message_passing.sums import aggregate
from molgate.nn.pooling import AGGREGATIONS, MeanNormAggregation, pooled_width
from molgate.train.checkpoint import load_model

from tests.conftest import SMALL

SMILES = ["CCO", "c1ccccc1O", "[He]", "[Na+].[Cl-]", "CCCCCCCCCCCC", "C[C@H](N)C(=O)O", "O"]


def _batch(featurizer):
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in SMILES])


def test_mean_norm_is_chemprops_mean_and_norm_side_by_side_with_their_gradients(featurizer):
    bmg = _batch(featurizer)
    H = torch.randn(bmg.V.shape[0], 6, generator=torch.Generator().manual_seed(0), requires_grad=True)
    expected = torch.cat([MeanAggregation()(H, bmg.batch), NormAggregation()(H, bmg.batch)], dim=1)
    for got in (MeanNormAggregation()(H, bmg.batch), aggregate(MeanNormAggregation(), H, bmg.batch)):
        torch.testing.assert_close(got, expected)
        w = torch.linspace(-1, 2, got.numel()).reshape(got.shape)
        g_got, = torch.autograd.grad((got * w).sum(), H)
        g_exp, = torch.autograd.grad((expected * w).sum(), H, retain_graph=True)
        torch.testing.assert_close(g_got, g_exp)
    # leading axes (K encoders, perturbation samples) are carried along
    stacked = torch.stack([H, 2 * H]).detach()
    torch.testing.assert_close(aggregate(MeanNormAggregation(), stacked, bmg.batch)[1], 2 * expected.detach())


def test_the_molecule_vector_is_twice_as_wide_and_every_encoder_path_agrees(featurizer):
    assert pooled_width("mean+norm", 24) == 48 and pooled_width("norm", 24) == 24
    with pytest.raises(ValueError, match="aggregation must be one of"):
        pooled_width("max", 24)
    d_v, d_e = feature_dims()
    torch.manual_seed(0)
    enc = MoleculeEncoder(d_v, d_e, 24, aggregation="mean+norm")
    assert enc.output_dim == 48
    bmg = _batch(featurizer)
    chemprops = enc.aggregation(enc.message_passing(bmg), bmg.batch)  # chemprop's own forward
    enc.train()
    training = enc(bmg)  # the deduplicated training path
    enc.eval()
    with torch.no_grad():
        inference = enc(bmg)  # the fast inference path
    assert chemprops.shape == (len(SMILES), 48)
    torch.testing.assert_close(training, chemprops, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(inference, chemprops, atol=1e-5, rtol=1e-5)
    # the second half is the first times the atom count / 100: it keeps the size a mean hides
    atoms = torch.bincount(bmg.batch).unsqueeze(1).float()
    torch.testing.assert_close(chemprops[:, 24:] * 100 / atoms, chemprops[:, :24], atol=1e-5, rtol=1e-4)


def test_every_model_reads_the_wider_vector(featurizer):
    d_v, d_e = feature_dims()
    config = EncoderConfig(hidden_size=16, ffn_hidden_size=16, aggregation="mean+norm")
    bmg = _batch(featurizer)
    assert MTLModel(2, d_v, d_e, config)(bmg).shape == (len(SMILES), 2)
    gate = GATEModel(2, d_v, d_e, config, GateConfig(latent_size=8, lf_size=8, perturb_count=2))
    assert gate.embedding_width == 32 and gate(bmg).shape == (len(SMILES), 2)
    with pytest.raises(ValueError, match="separate GATE encoders use mean"):
        GATEModel(2, d_v, d_e, config, GateConfig(latent_size=8, lf_size=8, sharing="separate"))


def test_train_add_a_task_and_reload_with_mean_norm(tmp_path, two_task_csv, freesolv):
    gate = GateConfig(latent_size=16, lf_size=16, perturb_count=2)
    out = tmp_path / "gate"
    api.train(two_task_csv, targets=["freesolv", "doubled"], method="gate", out=out, gate=gate,
              aggregation="mean+norm", **SMALL)
    new = tmp_path / "new.csv"
    df = freesolv.iloc[80:140].copy()
    df["halved"] = df["freesolv"] / 2
    df[["smiles", "halved"]].to_csv(new, index=False)
    smiles = freesolv["smiles"].iloc[:5].tolist()
    before = PropertyRegressor.load(out).predict(smiles)
    # every context that slices trunk embeddings: the bank, per-step draws, the new trunk frozen
    for name, options in {"bank": {}, "steps": {"perturbations": "per_step"},
                          "frozen": {"perturbations": "per_step", "train_trunk": False}}.items():
        added = tmp_path / name
        api.add_task(out, new, "halved", added, epochs=1, batch_size=32, progress=False, **options)
        _, config = load_model(added)
        assert config["model"]["aggregation"] == "mean+norm"
        after = PropertyRegressor.load(added).predict(smiles)
        assert after.shape == (5, 3) and np.isfinite(after).all()
        assert (before == after[:, :2]).all()  # the old tasks are untouched by the addition


def test_mean_norm_cannot_go_to_chemprop(tmp_path, two_task_csv, capsys):
    out = tmp_path / "mtl"
    api.train(two_task_csv, targets=["freesolv"], method="mtl", out=out, aggregation="mean+norm", **SMALL)
    with pytest.raises(InputError, match="Chemprop has no 'mean\\+norm' aggregation"):
        export_chemprop(out, tmp_path / "encoder.pt")
    with pytest.raises(ValueError, match="leave out chemprop-stl, chemprop-mtl"):
        BenchmarkConfig.quick(aggregation="mean+norm")
    assert BenchmarkConfig.quick(aggregation="mean+norm", methods=("mtl", "gate")).aggregation == "mean+norm"
    assert main(["benchmark", "--quick", "--out", str(tmp_path / "b"), "--aggregation", "mean+norm"]) == 2
    assert "Chemprop has no 'mean+norm' aggregation" in capsys.readouterr().err


def test_the_clis_names_are_the_encoders():
    assert AGGREGATION_NAMES == list(AGGREGATIONS)
