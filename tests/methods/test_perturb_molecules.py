"""``perturb_molecules = P``: only a batch's first P molecules get perturbed copies. The rows, the
distances and the losses are those of the same draws computed on those P molecules by hand."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from molgate.cli.main import build_parser
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.jobs.add_task import MAP_SOURCES, PERTURB_MOLECULES
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate_losses import distance_loss, perturbation_distances
from molgate.methods.frozen_context import frozen_context
from molgate.methods.task_addition import TaskAdditionModel, new_task_part
from molgate.nn.gate_modules import perturbed_rows, split_rows
from molgate.nn.mlp import BatchedMLP

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "ClC(Cl)Cl", "CCCCCC", "OCCO", "c1ccncc1", "CC(C)O"]


def _grads(loss, params):
    return torch.autograd.grad(loss, params)


def test_perturbed_rows_of_the_first_p_molecules_equal_the_mlp_on_their_perturbed_inputs():
    torch.manual_seed(0)
    K, B, P, M, d = 3, 6, 2, 4, 5
    mlp = BatchedMLP(K, d, 7, 4, n_layers=1).double()
    e = torch.randn(B, d, dtype=torch.float64, requires_grad=True)
    offsets = 0.1 * torch.randn(M, P, d, dtype=torch.float64)
    rows = perturbed_rows(mlp, e, offsets)
    assert rows.shape == (K, B + M * P, 4)
    plain, pert = split_rows(rows, B, M)
    old_plain = mlp(e.unsqueeze(0).expand(K, B, d))
    old_pert = mlp((e[:P] + offsets).unsqueeze(0).expand(K, M, P, d))
    torch.testing.assert_close(plain, old_plain, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pert, old_pert, rtol=1e-12, atol=1e-12)
    params = [e, *mlp.parameters()]
    up_a, up_b = torch.randn_like(plain), torch.randn_like(pert)
    new = _grads((plain * up_a).sum() + (pert * up_b).sum(), params)
    old = _grads((old_plain * up_a).sum() + (old_pert * up_b).sum(), params)
    for a, b in zip(new, old):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_perturbation_distances_pair_the_first_p_molecules_with_their_copies():
    u = torch.randn(2, 5, 3)
    u_pert = torch.randn(2, 4, 2, 3)
    s = perturbation_distances(u, u_pert)
    assert s.shape == (2, 4, 2)
    assert torch.allclose(s[1, 3, 1], (u[1, 1] - u_pert[1, 3, 1]).norm())


def test_gate_config_refuses_a_bad_perturb_molecules_and_saves_it_only_when_set():
    with pytest.raises(ValueError, match="at least 1"):
        GateConfig(perturb_molecules=0)
    with pytest.raises(ValueError, match="trunk sharing"):
        GateConfig(sharing="separate", perturb_molecules=8)
    assert "perturb_molecules" not in GateConfig().to_dict()  # configs saved before it stay as they were
    assert GateConfig(**GateConfig().to_dict()) == GateConfig()
    assert GateConfig(**GateConfig(perturb_molecules=8).to_dict()).perturb_molecules == 8


def _model(p):
    d_v, d_e = feature_dims(FeaturizerSettings())
    torch.manual_seed(0)
    gate = GateConfig(latent_size=8, lf_size=8, perturb_count=3, perturb_molecules=p)
    return GATEModel(3, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16), gate)


@pytest.fixture(scope="module")
def batch():
    graphs = featurize(SMILES, cache=False, progress=False)
    y = np.random.default_rng(0).normal(size=(len(SMILES), 3))
    return next(iter(make_loader(GraphDataset(graphs, y), len(SMILES))))


def test_gate_distance_term_is_that_of_the_first_p_molecules(batch):
    model = _model(4)
    model.train()
    torch.manual_seed(5)
    terms, _ = model.loss_terms(batch)
    torch.manual_seed(5)
    e = model.shared_embedding(batch.bmg)
    noise = torch.randn(3, 4, e.shape[1], dtype=e.dtype)  # M draws of the first P molecules only
    offsets = noise * (0.05 * e.detach().std(dim=0, correction=0))
    u = model.transfer(model.encode(batch.bmg, e.unsqueeze(0)))[:, 0]
    u_pert = model.transfer(model.encode(batch.bmg, e[:4] + offsets))
    torch.testing.assert_close(terms["dis"], distance_loss(u, u_pert), rtol=1e-5, atol=1e-7)


def test_p_at_least_the_batch_is_every_molecule(batch):
    results = []
    for p in (None, len(SMILES), 50):
        model = _model(p)
        torch.manual_seed(5)
        results.append(model.training_loss(batch)[0])
    assert results[0] == results[1] == results[2]


def test_task_addition_with_p_uses_the_banks_first_p_molecules_cached_or_not(batch):
    frozen = _model(None)
    graphs = featurize(SMILES, cache=False, progress=False)
    y = batch.y[:, :1].numpy()
    losses = {}
    for p in (3, None):
        new = new_task_part(frozen, replace(frozen.gate, perturb_molecules=p))
        cached = frozen_context(frozen, new, graphs, seed=2)
        plain = frozen_context(frozen, new, graphs, seed=2, cache=False)
        view_b = TaskAdditionModel(frozen, new, "bank")
        view_n = TaskAdditionModel(frozen, new, "bank-noise", plain.scales)
        batch_b = next(iter(make_loader(GraphDataset(graphs, y, cached.values), len(graphs))))
        batch_n = next(iter(make_loader(GraphDataset(graphs, y, plain.values), len(graphs))))
        a, b = view_b.loss_terms(batch_b)[0]["dis"], view_n.loss_terms(batch_n)[0]["dis"]
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
        losses[p] = float(a.detach())
    assert losses[3] != losses[None]  # the option is in force
    # fresh draws per step (the frozen MLPs run on the batch): distances of the first P only
    new = new_task_part(frozen, replace(frozen.gate, perturb_molecules=3))
    context = frozen_context(frozen, new, graphs, perturbations="per_step")
    view = TaskAdditionModel(frozen, new, context.kind)
    per_step = next(iter(make_loader(GraphDataset(graphs, y, context.values), len(graphs))))
    noise = view._noise(per_step, new.shared_embedding(per_step.bmg))
    u_old, s_old = view._frozen_views(per_step, noise)
    assert noise.shape[:2] == (3, 3) and u_old.shape[:2] == (3, len(SMILES)) and s_old.shape == (3, 3, 3)
    assert torch.isfinite(view.loss_terms(per_step)[0]["dis"])


def test_cli_defaults_and_bounds():
    parser = build_parser()
    args = parser.parse_args(["add-task", "--model", "m", "--data", "d.csv", "--target", "t", "--out", "o"])
    assert (args.perturb_molecules, args.map_sources, args.freeze_trunk) == (PERTURB_MOLECULES, MAP_SOURCES, False)
    assert args.source_weights == "uniform"
    assert parser.parse_args(["train", "--data", "d.csv", "--out", "o"]).perturb_molecules is None
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--data", "d.csv", "--out", "o", "--perturb-molecules", "0"])
