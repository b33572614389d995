"""GATE's faster paths compute the same loss and gradients as the forms they replace: the mapping
term by target blocks (against the chunked form and the double loop), the trunk encoder with its
first layer split over the perturbations (against the stacked MLP), and a model's whole training
loss (against the previous implementation, written out below)."""

import numpy as np
import pytest
import torch
from chemprop.data import BatchMolGraph

from molgate.featurize.batching import GraphBatch
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate import set_transfer_ratios
from molgate.methods.gate_losses import (GateLossWeights, loss_terms, mapping_loss, mapping_pair_matrix,
                                         mapping_pair_matrix_by_target, pair_terms_matrix)
from molgate.nn.gate_modules import TaskMLPs, perturbed_rows, split_rows
from molgate.nn.mlp import BatchedMLP
from reference_losses import pairwise_mapping_loss

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "ClC(Cl)Cl", "CCCCCC", "OCCO", "c1ccncc1", "CC(C)O"]


def _mapping_problem(K=5, B=14, d_lf=4, seed=0):
    """Float64 LF points (with gradient), labels with missing entries (task K-1 unlabelled)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(K, B, d_lf, generator=g, dtype=torch.float64).requires_grad_()
    y = torch.randn(B, K, generator=g, dtype=torch.float64)
    y[torch.rand(B, K, generator=g) < 0.4] = float("nan")
    y[:, K - 1] = float("nan")
    torch.manual_seed(seed)
    inverse = BatchedMLP(K, d_lf, 8, 6, n_layers=1).double()
    head = BatchedMLP(K, 6, 8, 1, n_layers=1).double()
    return u, y, inverse, head


def _by_target(inverse, head):
    def predict(xs):
        inv, hd = TaskMLPs(inverse), TaskMLPs(head)
        return [hd(inv(x, t), t).squeeze(-1) for t, x in enumerate(xs)]
    return predict


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


@pytest.mark.parametrize("detach_sources", [False, True])
def test_mapping_by_target_equals_the_chunked_form_and_the_double_loop(detach_sources):
    u, y, inverse, head = _mapping_problem()
    K = u.shape[0]
    chunked = lambda x, t: head(inverse(x, t), t)  # noqa: E731
    params = [u, *inverse.parameters(), *head.parameters()]
    new = mapping_pair_matrix_by_target(u, y, _by_target(inverse, head), detach_sources=detach_sources)
    old = mapping_pair_matrix(u, y, chunked, detach_sources=detach_sources)
    off = ~torch.eye(K, dtype=torch.bool)
    assert torch.all(new.diagonal() == 0) and torch.all(new[:, K - 1] == 0)  # no labels for K-1
    assert torch.all(new[:, :-1][off[:, :-1]] > 0)  # every labelled target, every other source
    torch.testing.assert_close(new[off], old[off], rtol=1e-12, atol=1e-12)
    weights = torch.rand(K, K, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    loss_new = mapping_loss(u, y, None, weights=weights, detach_sources=detach_sources,
                            predict_by_target=_by_target(inverse, head))
    loss_old = mapping_loss(u, y, chunked, weights=weights, detach_sources=detach_sources)
    one = lambda t, x: head(inverse(x.unsqueeze(0), torch.tensor([t])), torch.tensor([t]))[0].squeeze(-1)  # noqa: E731
    loop = pairwise_mapping_loss(u, y, one, weights=weights, detach_sources=detach_sources)
    torch.testing.assert_close(loss_new, loss_old, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss_new, loop, rtol=1e-12, atol=1e-12)
    for a, b, c in zip(_grads(loss_new, params), _grads(loss_old, params), _grads(loop, params)):
        if detach_sources and a is None:  # u gets no gradient when every source is detached
            assert b is None and c is None
            continue
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)


def test_mapping_by_target_without_labels_is_zero_and_differentiable():
    u, y, inverse, head = _mapping_problem(K=3)
    y[:] = float("nan")
    matrix = mapping_pair_matrix_by_target(u, y, _by_target(inverse, head))
    assert matrix.shape == (3, 3) and torch.all(matrix == 0)
    matrix.sum().backward()  # no error, zero gradient
    assert u.grad is None or torch.all(u.grad == 0)


def test_task_mlps_run_each_task_exactly_as_the_batched_mlp():
    torch.manual_seed(0)
    mlp = BatchedMLP(4, 5, 7, 3, n_layers=2).double()
    x = torch.randn(4, 6, 5, dtype=torch.float64)
    per_task = TaskMLPs(mlp)
    batched = mlp(x)
    for t in range(4):
        torch.testing.assert_close(per_task(x[t], t), batched[t], rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("n_layers,count", [(1, 4), (0, 3), (2, 0)])
def test_perturbed_rows_equal_the_stacked_mlp_in_value_and_gradient(n_layers, count):
    torch.manual_seed(0)
    K, B, d = 3, 6, 5
    mlp = BatchedMLP(K, d, 7, 4, n_layers=n_layers).double()
    e = torch.randn(B, d, dtype=torch.float64, requires_grad=True)
    offsets = 0.1 * torch.randn(count, B, d, dtype=torch.float64) if count else None
    stacked = e.unsqueeze(0) if offsets is None else torch.cat([e.unsqueeze(0), e + offsets])
    old = mlp(stacked.unsqueeze(0).expand(K, *stacked.shape))
    plain, pert = split_rows(perturbed_rows(mlp, e, offsets), B, count)
    new = plain.unsqueeze(1) if pert is None else torch.cat([plain.unsqueeze(1), pert], dim=1)
    assert new.shape == (K, 1 + count, B, 4)
    torch.testing.assert_close(new, old, rtol=1e-12, atol=1e-12)
    upstream = torch.randn_like(old)
    params = [e, *mlp.parameters()]
    for a, b in zip(_grads((new * upstream).sum(), params), _grads((old * upstream).sum(), params)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# ---- a whole GATE model: the training loss of the previous implementation -------------------------


@pytest.fixture(scope="module")
def batch():
    """A float64 batch: the distance term compares points 0.05 spreads apart, so float32 rounding
    alone moves it by ~1e-5 relative whatever the order of operations; float64 shows the maths."""
    y = np.full((len(SMILES), 3), np.nan)
    y[:6, 0] = np.arange(6) / 3
    y[3:, 1] = -np.arange(6) / 4
    y[::2, 2] = 1.0
    bmg = BatchMolGraph(featurize(SMILES, progress=False))
    bmg.V, bmg.E = bmg.V.double(), bmg.E.double()
    return GraphBatch(bmg, torch.tensor(np.nan_to_num(y)), torch.tensor(~np.isnan(y)))


def small_gate(sharing="trunk", **weights) -> GATEModel:
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    return GATEModel(3, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=8),
                     GateConfig(sharing, latent_size=8, lf_size=6, weights=GateLossWeights(**weights))).double()


def previous_loss_terms(model: GATEModel, batch) -> dict:
    """``GATEModel.loss_terms`` before the fast paths: the perturbed copies through the stacked
    encoder MLP, and the mapping term in padded chunks with gathered weights."""
    w = model.gate.weights
    e = model.shared_embedding(batch.bmg)
    noise = model.perturbation_noise(e, model.gate.perturb_count if w.needs_perturbations else 0)
    stacked = e.unsqueeze(0) if noise is None else torch.cat([e.unsqueeze(0), model.perturb(e, noise)])
    z_all = model.encode(batch.bmg, stacked)
    u_all = model.transfer(z_all)
    z, u = z_all[:, 0], u_all[:, 0]
    return loss_terms(model.predict_from_latent(z), batch.y, z=z, z_rec=model.inverse(u), u=u,
                      u_pert=u_all[:, 1:] if noise is not None else None,
                      predict_from_lf=model.map_to_target, mask=batch.mask,
                      transfer_ratios=model._ratios(), weights=w, reduction=model.reduction)


@pytest.mark.parametrize("sharing,ratios", [("trunk", "ones"), ("trunk", "random"), ("separate", "ones")])
def test_gate_loss_and_gradients_equal_the_previous_implementation(batch, sharing, ratios):
    model = small_gate(sharing, alpha=0.5, beta=0.5, gamma=0.5, delta=0.5)
    if ratios == "random":
        set_transfer_ratios(model, torch.rand(3, 3, generator=torch.Generator().manual_seed(0)) * 2)
    params = [p for p in model.parameters() if p.requires_grad]
    weights = {"reg": 1.0, **model.gate.weights.active()}
    torch.manual_seed(5)
    new, _ = model.loss_terms(batch)
    torch.manual_seed(5)  # the same perturbations
    old = previous_loss_terms(model, batch)
    assert set(new) == set(old) == {"reg", "auto", "cons", "map", "dis"}
    for name in new:
        torch.testing.assert_close(new[name], old[name], rtol=1e-10, atol=1e-12)
        assert float(new[name].detach()) > 0
    total_new = sum(weights[n] * new[n] for n in new)
    total_old = sum(weights[n] * old[n] for n in old)
    for a, b in zip(_grads(total_new, params), _grads(total_old, params)):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_pair_terms_matrix_by_target_equals_the_chunked_form(batch):
    model = small_gate()
    z, u = model.lf_points(batch.bmg)
    y, mask, w = batch.y, batch.mask, model.gate.weights
    u_pert = u.unsqueeze(1) + 0.1
    old = pair_terms_matrix(u, u_pert, y, model.map_to_target, mask, w)
    new = pair_terms_matrix(u, u_pert, y, model.map_to_target, mask, w, model.map_by_target)
    torch.testing.assert_close(new, old, rtol=1e-10, atol=1e-12)


# ---- map_sources: the mapping term from S sources per target (an option; it changes the loss) ---


def test_map_sources_estimates_each_pair_from_a_scaled_draw_of_sources():
    u, y, inverse, head = _mapping_problem(K=5)
    predict = _by_target(inverse, head)
    full = mapping_pair_matrix_by_target(u, y, predict)
    rows = []

    def counting(xs):
        rows.append([len(x) for x in xs])
        return predict(xs)

    picked = torch.zeros(5, 5)
    for draw in range(200):
        est = mapping_pair_matrix_by_target(u, y, counting, sources=2)
        for t in range(4):  # target 4 has no labels
            chosen = est[:, t] != 0
            assert int(chosen.sum()) == 2 and not chosen[t]
            torch.testing.assert_close(est[chosen, t], 2.0 * full[chosen, t])  # (K - 1) / S = 2
            picked[:, t] += chosen
    labelled = (~torch.isnan(y)).sum(0)
    assert rows[0] == [2 * int(n) for n in labelled]  # S rows per labelled molecule of each target
    frequency = picked[:, :4] / 200  # each source of each target picked with probability S/(K-1)
    off = ~torch.eye(5, dtype=torch.bool)[:, :4]
    assert torch.all((frequency[off] - 0.5).abs() < 0.15)
    # S >= K - 1 is the full term, with no draw
    torch.testing.assert_close(mapping_pair_matrix_by_target(u, y, predict, sources=4), full)
    with pytest.raises(ValueError):
        GateLossWeights(map_sources=0)


def test_map_sources_reaches_the_model_loss(batch):
    model = small_gate(map_sources=1)
    torch.manual_seed(2)
    terms, _ = model.loss_terms(batch)
    assert torch.isfinite(terms["map"]) and float(terms["map"].detach()) > 0
    terms["map"].backward()
    assert model.inverse.layers[0].weight.grad.abs().sum() > 0
