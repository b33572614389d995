"""Task addition with a perturbation bank: the cache changes the cost, not the loss."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.extended_gate import extend, gate_parts
from molgate.methods.gate_losses import (GateLossWeights, consistency_loss, distance_loss,
                                         mapping_loss)
from molgate.methods.frozen_context import frozen_context, frozen_scales, perturbation_bank
from molgate.methods.task_addition import TaskAdditionModel, new_task_part

N = 24


def _tiny_gate(n_tasks=2, seed=0, weights=None):
    d_v, d_e = feature_dims(FeaturizerSettings())
    torch.manual_seed(seed)
    gate = GateConfig(latent_size=8, lf_size=8, perturb_count=3, weights=weights or GateLossWeights())
    return GATEModel(n_tasks, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16), gate)


@pytest.fixture(scope="module")
def data(freesolv):
    graphs = featurize(freesolv["smiles"].iloc[:N].tolist(), cache=False, progress=False)
    y = freesolv["freesolv"].iloc[:N].to_numpy()[:, None].copy()
    y[::5] = np.nan  # unlabelled molecules take part in every term but the labelled ones
    return graphs, (y - np.nanmean(y)) / np.nanstd(y)


@pytest.fixture()
def frozen():
    """Two parts (a pre-trained GATE and one added task): three frozen tasks."""
    return extend(_tiny_gate(), new_task_part(_tiny_gate(seed=1)))


def _batch(graphs, y, context):
    return next(iter(make_loader(GraphDataset(graphs, y, context), len(graphs))))


def test_cached_bank_gives_the_loss_of_the_same_draws_without_running_the_frozen_model(frozen, data):
    graphs, y = data
    new = new_task_part(frozen)
    cached = frozen_context(frozen, new, graphs, seed=7)
    plain = frozen_context(frozen, new, graphs, seed=7, cache=False)
    assert (cached.kind, plain.kind) == ("bank", "bank-noise")
    count, d_h = new.gate.perturb_count, new.config.hidden_size
    assert np.array_equal(cached.values[:, :count * d_h], plain.values)  # one bank, two contexts
    assert cached.values.shape == (N, count * d_h + 3 * 8 + 3 * count)
    a, parts_a = TaskAdditionModel(frozen, new, "bank-noise", plain.scales).training_loss(_batch(graphs, y, plain.values))
    calls = []
    hooks = [p.encoder_mlp.register_forward_pre_hook(lambda *args: calls.append(1)) for p in gate_parts(frozen)]
    b, parts_b = TaskAdditionModel(frozen, new, "bank").training_loss(_batch(graphs, y, cached.values))
    for hook in hooks:
        hook.remove()
    assert calls == []  # a training step runs no frozen module
    assert set(parts_a) == {"reg", "auto", "cons", "map", "dis", "total"}
    for name in parts_a:
        assert torch.allclose(parts_a[name], parts_b[name], rtol=1e-5, atol=1e-7), name
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_the_bank_is_fixed_per_molecule_and_seed(frozen, data):
    graphs, _ = data
    new = new_task_part(frozen)
    first, again = (frozen_context(frozen, new, graphs, seed=3).values for _ in range(2))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, frozen_context(frozen, new, graphs, seed=4).values)
    count, d_h = new.gate.perturb_count, new.config.hidden_size
    assert np.array_equal(first[:, :count * d_h], perturbation_bank(N, count, d_h, seed=3))


def test_frozen_scales_are_sigma_times_the_spread_over_the_molecules(frozen, data):
    graphs, _ = data
    scales = frozen_scales(frozen, graphs)
    bmg = _batch(graphs, None, None).bmg
    with torch.no_grad():
        for part, scale in zip(gate_parts(frozen), scales):
            e = part.trunk(bmg)
            assert torch.allclose(scale, part.gate.perturb_scale * e.std(dim=0, correction=0), atol=1e-7)


def test_terms_are_the_gate_losses_over_the_frozen_and_new_tasks(frozen, data):
    """cons, map and dis, computed in O(K) from cached views, equal the generic GATE terms over
    the K + 1 tasks with ratio 1 for every frozen source -> new pair."""
    graphs, y = data
    new = new_task_part(frozen)
    ctx = frozen_context(frozen, new, graphs, seed=0, cache=False)
    view = TaskAdditionModel(frozen, new, "bank-noise", ctx.scales)
    batch = _batch(graphs, y, ctx.values)
    _, parts = view.training_loss(batch)
    count, d_h = new.gate.perturb_count, new.config.hidden_size
    noise = batch.context.reshape(N, count, d_h).transpose(0, 1)
    with torch.no_grad():
        views = []
        for part, scale in zip(gate_parts(frozen), ctx.scales):  # the frozen parts, fixed scales
            e = part.trunk(batch.bmg)
            views.append(part.transfer(part.encode(batch.bmg, torch.cat([e[None], e + noise * scale]))))
        z_rows, b = new.latent_rows(batch.bmg, new.shared_embedding(batch.bmg), noise)
        views.append(new.transfer(z_rows).reshape(1, 1 + count, b, -1))
        u_all = torch.cat(views)  # [K + 1, 1 + M, B, d_lf]
    u, u_pert = u_all[:, 0], u_all[:, 1:]
    k = frozen.n_tasks
    ratios = torch.zeros(k + 1, k + 1)
    ratios[:k, k] = 1.0
    y_all = torch.cat([torch.zeros(N, k), batch.y], dim=1)
    mask = torch.cat([torch.zeros(N, k, dtype=torch.bool), batch.mask], dim=1)
    assert float(parts["cons"]) == pytest.approx(float(consistency_loss(u, ratios)), rel=1e-5)
    assert float(parts["dis"]) == pytest.approx(float(distance_loss(u, u_pert, ratios)), rel=1e-5)
    def new_heads(x, targets):  # only the new task is labelled: every row goes through its modules
        return new.map_to_target(x.reshape(1, -1, x.shape[-1]), None).reshape(x.shape[:-1])

    expected_map = mapping_loss(u, y_all, new_heads, mask, ratios)
    assert float(parts["map"]) == pytest.approx(float(expected_map.detach()), rel=1e-5)


def test_sub_sampled_mapping_sources_average_to_the_full_term(frozen, data):
    """map_sources = 1 picks one of the K frozen sources per step, weighted K: over the K possible
    draws the term averages to the full one (unbiased)."""
    graphs, y = data
    new = new_task_part(frozen)
    ctx = frozen_context(frozen, new, graphs, seed=0)
    batch = _batch(graphs, y, ctx.values)
    full = float(TaskAdditionModel(frozen, new, "bank").training_loss(batch)[1]["map"])
    one = TaskAdditionModel(frozen, new, "bank", map_sources=1)
    draws = set()
    for seed in range(60):
        torch.manual_seed(seed)
        draws.add(round(float(one.training_loss(batch)[1]["map"]), 6))
    assert len(draws) == frozen.n_tasks  # each source, once as the drawn one
    assert np.mean(sorted(draws)) == pytest.approx(full, rel=1e-4)


def test_a_frozen_new_trunk_trains_only_the_new_mlps_on_its_cached_embedding(frozen, data):
    graphs, y = data
    new = new_task_part(frozen)
    cached = frozen_context(frozen, new, graphs, seed=0, train_trunk=False)
    plain = frozen_context(frozen, new, graphs, seed=0, cache=False, train_trunk=False)
    d_h = new.config.hidden_size
    with torch.no_grad():
        own = new.trunk(_batch(graphs, None, None).bmg).numpy()
    assert np.allclose(cached.values[:, -d_h:], own, atol=1e-6) and np.array_equal(plain.values[:, -d_h:], cached.values[:, -d_h:])
    a, _ = TaskAdditionModel(frozen, new, "bank", train_trunk=False).training_loss(_batch(graphs, y, cached.values))
    a.backward()
    assert all(p.grad is None for p in new.trunk.parameters())
    assert all(p.grad is not None for p in new.encoder_mlp.parameters())
    live = TaskAdditionModel(frozen, new, "bank-noise", plain.scales, train_trunk=False)
    b, _ = live.training_loss(_batch(graphs, y, plain.values))
    assert torch.allclose(a.detach(), b.detach(), rtol=1e-5, atol=1e-7)


def test_bank_needs_its_context_and_the_reference_path_its_scales(frozen, data):
    graphs, y = data
    new = new_task_part(frozen)
    with pytest.raises(ValueError, match="frozen_scales"):
        TaskAdditionModel(frozen, new, "bank-noise")
    with pytest.raises(ValueError, match="context"):
        TaskAdditionModel(frozen, new, "bank").training_loss(_batch(graphs, y, None))
    with pytest.raises(ValueError, match="perturbations"):
        frozen_context(frozen, new, graphs, perturbations="fresh")


def test_aligned_rows_estimate_the_pair_terms_on_the_batchs_first_molecules(frozen, data):
    """``align_molecules = A``: auto, cons and map are those of the batch's first A molecules
    alone; l_reg still sees every molecule; A >= B is the plain loss."""
    graphs, y = data
    new = new_task_part(frozen, _tiny_gate(n_tasks=1, weights=GateLossWeights(use_dis=False)).gate)
    context = frozen_context(frozen, new, graphs).values  # no perturbation: the frozen LF points
    whole, first = _batch(graphs, y, context), _batch(graphs[:10], y[:10], context[:10])
    _, aligned = TaskAdditionModel(frozen, new, "lf", align_molecules=10).training_loss(whole)
    _, on_whole = TaskAdditionModel(frozen, new, "lf").training_loss(whole)
    _, on_first = TaskAdditionModel(frozen, new, "lf").training_loss(first)
    for term in ("auto", "cons", "map"):
        assert float(aligned[term]) == pytest.approx(float(on_first[term]), rel=1e-5)
        assert float(aligned[term]) != pytest.approx(float(on_whole[term]), rel=1e-3)
    assert float(aligned["reg"]) == pytest.approx(float(on_whole["reg"]), rel=1e-6)
    _, covering = TaskAdditionModel(frozen, new, "lf", align_molecules=N + 5).training_loss(whole)
    assert all(float(covering[t]) == pytest.approx(float(on_whole[t]), rel=1e-6) for t in on_whole)


def test_aligned_rows_must_cover_the_perturbed_molecules(frozen):
    new = new_task_part(frozen, replace(_tiny_gate(n_tasks=1).gate, perturb_molecules=8))
    assert new.gate.weights.needs_perturbations
    TaskAdditionModel(frozen, new, align_molecules=8)  # the perturbed molecules are aligned
    for bad in (0, 4):
        with pytest.raises(ValueError, match="align_molecules"):
            TaskAdditionModel(frozen, new, align_molecules=bad)
