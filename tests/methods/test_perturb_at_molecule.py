"""``perturb_at = "molecule"``: separate encoders perturb each task's molecule vector, with the same
draws for every task, so the distance term needs no extra message passing."""

import numpy as np
import pytest
import torch

from molgate.cli.main import _gate_config, build_parser
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.jobs.add_task import prepare_addition
from molgate.errors import InputError
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate_losses import distance_loss
from molgate.methods.task_addition import TaskAdditionModel, new_task_part

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "ClC(Cl)Cl", "CCCCCC", "OCCO", "c1ccncc1"]


def _model(p=None, perturb_at="molecule"):
    d_v, d_e = feature_dims(FeaturizerSettings())
    torch.manual_seed(0)
    gate = GateConfig(sharing="separate", latent_size=8, lf_size=8, perturb_count=3, perturb_molecules=p,
                      perturb_at=perturb_at)
    return GATEModel(3, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16), gate)


@pytest.fixture(scope="module")
def batch():
    graphs = featurize(SMILES, cache=False, progress=False)
    y = np.random.default_rng(0).normal(size=(len(SMILES), 3))
    return next(iter(make_loader(GraphDataset(graphs, y), len(SMILES))))


def test_config_refuses_bad_values_and_saves_the_option_only_when_set():
    with pytest.raises(ValueError, match="perturb_at must be one of"):
        GateConfig(sharing="separate", perturb_at="bond")
    with pytest.raises(ValueError, match="for separate sharing"):
        GateConfig(perturb_at="molecule")  # trunk already perturbs the molecule vector
    with pytest.raises(ValueError, match="perturb_molecules needs"):
        GateConfig(sharing="separate", perturb_molecules=4)
    assert GateConfig(sharing="separate", perturb_molecules=4, perturb_at="molecule").perturb_molecules == 4
    assert "perturb_at" not in GateConfig(sharing="separate").to_dict()  # old fingerprints unchanged
    saved = GateConfig(sharing="separate", perturb_at="molecule").to_dict()
    assert saved["perturb_at"] == "molecule" and GateConfig(**saved).perturb_at == "molecule"


@pytest.mark.parametrize("p", [None, 3])
def test_distance_term_is_that_of_each_tasks_perturbed_molecule_vector(batch, p):
    model = _model(p)
    model.train()
    torch.manual_seed(5)
    terms, _ = model.loss_terms(batch)
    torch.manual_seed(5)
    model.shared_embedding(batch.bmg)  # draws nothing, as in loss_terms
    rows = p or len(SMILES)
    noise = torch.randn(3, rows, model.message_passing.d_h)
    h = model.message_passing.encode(batch.bmg)  # [K, B, d_h]
    # task k's copies: its own molecule vectors plus the shared draws times its own spread
    x = torch.stack([h[k, :rows] + noise * (0.05 * h[k].detach().std(dim=0, correction=0)) for k in range(3)])
    u = model.transfer(model.encoder_mlp(h))
    u_pert = model.transfer(model.encoder_mlp(x))  # [K, M, P, d_lf]
    torch.testing.assert_close(terms["dis"], distance_loss(u, u_pert), rtol=1e-5, atol=1e-7)
    assert terms["dis"] > 0


def test_one_message_passing_per_step_and_the_gradient_reaches_the_encoders(batch, monkeypatch):
    model = _model()
    model.train()
    calls = []
    original = model.message_passing.forward
    monkeypatch.setattr(model.message_passing, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    terms, _ = model.loss_terms(batch)
    assert len(calls) == 1
    terms["dis"].backward()
    assert model.message_passing.W_h_weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder_mlp.parameters()
               if p.dim() > 1)
    # the input form runs the M copies through the message passing: 1 + M samples in one call
    slow = _model(perturb_at="input")
    slow.train()
    e = slow.shared_embedding(batch.bmg)
    noise = slow.draw_noise(batch.bmg, e, 3)
    assert noise.shape[1] == e.shape[0] != len(SMILES)  # per directed bond, not per molecule


def test_task_addition_refuses_a_model_trained_with_molecule_perturbations(batch):
    frozen = _model()
    graphs = featurize(SMILES, cache=False, progress=False)
    with pytest.raises(InputError, match="perturb_at='molecule'"):
        prepare_addition(frozen, graphs, batch.y[:, :1].numpy(), graphs, batch.y[:, :1].numpy())
    new = new_task_part(frozen, frozen.gate)
    with pytest.raises(ValueError, match="perturb_at='molecule'"):
        TaskAdditionModel(frozen, new, "lf")


def test_cli_option():
    parser = build_parser()
    base = ["train", "--data", "d.csv", "--out", "o", "--sharing", "separate"]
    assert parser.parse_args(base).perturb_at == "input"
    assert _gate_config(parser.parse_args(base + ["--perturb-at", "molecule"])).perturb_at == "molecule"
    with pytest.raises(SystemExit):
        parser.parse_args(base + ["--perturb-at", "atom"])


@pytest.mark.parametrize("perturb_at", ["molecule", "input"])
def test_separate_training_loss_and_gradients_equal_with_deduplication_on_and_off(batch, monkeypatch, perturb_at):
    model = _model(perturb_at=perturb_at)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    results = []
    for flag in ("1", "0"):
        monkeypatch.setenv("MOLGATE_DEDUP_TRAINING", flag)
        torch.manual_seed(7)
        loss = model.training_loss(batch)[0]
        results.append((loss, torch.autograd.grad(loss, params, allow_unused=True)))
    (loss_on, grads_on), (loss_off, grads_off) = results
    torch.testing.assert_close(loss_on, loss_off, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_on, grads_off):
        if a is None or b is None:
            assert a is None and b is None
        else:
            # float32 sums in another order: tolerance relative to the gradient's scale
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4 * float(b.abs().max()))
