"""GATE losses: the O(K) and Gram forms equal the plain double loop, and the losses behave as the
spec says on a real batch of molecules (zero for identical tasks, gradients where they belong,
missing labels ignored)."""

import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
from rdkit import Chem
from torch import nn

from molgate.methods.gate_losses import (
    GateLossWeights,
    autoencoding_loss,
    consistency_loss,
    distance_loss,
    mapping_loss,
    total_loss,
)
from molgate.methods.regression import regression_loss
from reference_losses import pairwise_consistency_loss, pairwise_distance_loss, pairwise_mapping_loss
from molgate.nn.message_passing.batched import BatchedBondMessagePassing
from molgate.nn.mlp import BatchedMLP

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OCC(N)C(=O)O", "ClC(Cl)Cl",
          "C1CC1C#N", "CCCCCCCC", "O=C(O)c1ccccc1", "CC(C)O"]
REDUCTIONS = ["target_mean", "sum", "pair_mean"]
FORMS = ["scale_free", "raw"]


def _asymmetric_weights(K, seed=7):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(K, K, generator=g) * 2
    assert not torch.allclose(w, w.T)
    return w


def _random_mapping_problem(K=5, B=12, d_lf=3, seed=0):
    """Random LF points, labels with missing entries (task 4 fully unlabelled) and small heads."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(K, B, d_lf, generator=g)
    y = torch.randn(B, K, generator=g)
    y[torch.rand(B, K, generator=g) < 0.4] = float("nan")
    y[:, K - 1] = float("nan")
    torch.manual_seed(seed)
    inverse = BatchedMLP(K, d_lf, 8, 4, n_layers=1)
    head = BatchedMLP(K, 4, 8, 1, n_layers=1)
    return u, y, inverse, head


def _predict_one(inverse, head):
    def predict(t, x):
        index = torch.tensor([t])
        return head(inverse(x.unsqueeze(0), index), index)[0].squeeze(-1)
    return predict


# ---- fast forms == double loop ------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_consistency_fast_forms_equal_double_loop(reduction, form):
    u = torch.randn(5, 16, 4, generator=torch.Generator().manual_seed(0)) * torch.arange(1.0, 6).view(5, 1, 1)
    reference = pairwise_consistency_loss(u, reduction=reduction, form=form)
    torch.testing.assert_close(consistency_loss(u, None, reduction, form), reference)  # variance identity
    torch.testing.assert_close(consistency_loss(u, torch.ones(5, 5), reduction, form), reference)  # Gram
    w = _asymmetric_weights(5)
    torch.testing.assert_close(consistency_loss(u, w, reduction, form),
                               pairwise_consistency_loss(u, w, reduction, form))


@pytest.mark.parametrize("batch_pairs", [False, True])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_distance_fast_forms_equal_double_loop(reduction, form, batch_pairs):
    g = torch.Generator().manual_seed(1)
    u = torch.randn(5, 16, 4, generator=g)
    u_pert = None if batch_pairs else u.unsqueeze(1) + 0.1 * torch.randn(5, 3, 16, 4, generator=g)
    reference = pairwise_distance_loss(u, u_pert, reduction=reduction, form=form)
    torch.testing.assert_close(distance_loss(u, u_pert, None, reduction, form), reference)
    torch.testing.assert_close(distance_loss(u, u_pert, torch.ones(5, 5), reduction, form), reference)
    w = _asymmetric_weights(5)
    torch.testing.assert_close(distance_loss(u, u_pert, w, reduction, form),
                               pairwise_distance_loss(u, u_pert, w, reduction, form))


def _grads(loss_fn, *tensors):
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    loss_fn(*leaves).backward()
    return [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("form", FORMS)
def test_detached_sources_match_the_double_loop_in_value_and_gradient(form, weighted):
    g = torch.Generator().manual_seed(2)
    u = torch.randn(4, 10, 3, generator=g)
    u_pert = u.unsqueeze(1) + 0.2 * torch.randn(4, 2, 10, 3, generator=g)
    w = _asymmetric_weights(4) if weighted else None
    pairs = [
        (lambda x: consistency_loss(x, w, form=form, detach_sources=True),
         lambda x: pairwise_consistency_loss(x, w, form=form, detach_sources=True)),
        (lambda x: distance_loss(x, None, w, form=form, detach_sources=True),
         lambda x: pairwise_distance_loss(x, None, w, form=form, detach_sources=True)),
    ]
    for fast, loop in pairs:
        torch.testing.assert_close(fast(u), loop(u))
        torch.testing.assert_close(_grads(fast, u)[0], _grads(loop, u)[0])
    fast_dis = lambda x, p: distance_loss(x, p, w, form=form, detach_sources=True)  # noqa: E731
    loop_dis = lambda x, p: pairwise_distance_loss(x, p, w, form=form, detach_sources=True)  # noqa: E731
    for a, b in zip(_grads(fast_dis, u, u_pert), _grads(loop_dis, u, u_pert)):
        torch.testing.assert_close(a, b)
    # without detaching, the sources are pulled too: the gradient differs
    detached = _grads(lambda x: consistency_loss(x, w, form=form, detach_sources=True), u)[0]
    assert not torch.allclose(_grads(lambda x: consistency_loss(x, w, form=form), u)[0], detached)


@pytest.mark.parametrize("distance_from_batch", [False, True])
def test_scale_free_terms_do_not_change_when_every_latent_is_rescaled(distance_from_batch):
    g = torch.Generator().manual_seed(3)
    z, z_rec = torch.randn(3, 12, 5, generator=g), torch.randn(3, 12, 5, generator=g)
    u = torch.randn(3, 12, 4, generator=g)
    u_pert = None if distance_from_batch else u.unsqueeze(1) + 0.05 * torch.randn(3, 2, 12, 4, generator=g)
    w = _asymmetric_weights(3)

    def terms(c, form):
        scaled_pert = None if u_pert is None else c * u_pert
        return torch.stack([autoencoding_loss(c * z, c * z_rec, form), consistency_loss(c * u, None, form=form),
                            consistency_loss(c * u, w, form=form), distance_loss(c * u, scaled_pert, form=form),
                            distance_loss(c * u, scaled_pert, w, form=form)])

    for c in (1e-3, 0.5, 7.0, 300.0):
        torch.testing.assert_close(terms(c, "scale_free"), terms(1.0, "scale_free"))
    raw = terms(1.0, "raw")
    torch.testing.assert_close(terms(10.0, "raw"), raw * 100)  # the raw form scales with c^2


def test_scale_free_terms_have_no_gradient_along_the_common_scale():
    g = torch.Generator().manual_seed(4)
    u = torch.randn(3, 8, 4, generator=g, requires_grad=True)
    loss = consistency_loss(u) + distance_loss(u, None)
    (grad,) = torch.autograd.grad(loss, u)
    assert abs(float((grad * u.detach()).sum())) < 1e-5  # Euler: degree-0 homogeneous


@pytest.mark.parametrize("weighted", [False, True])
def test_mapping_loss_equals_double_loop_on_labelled_pairs(weighted):
    u, y, inverse, head = _random_mapping_problem()
    w = _asymmetric_weights(5) if weighted else None
    fast = mapping_loss(u, y, lambda x, t: head(inverse(x, t), t), weights=w)
    reference = pairwise_mapping_loss(u, y, _predict_one(inverse, head), weights=w)
    torch.testing.assert_close(fast, reference)


def test_pair_terms_vanish_for_a_single_task():
    u = torch.randn(1, 4, 3)
    assert consistency_loss(u) == 0 and consistency_loss(u, torch.ones(1, 1)) == 0
    assert distance_loss(u, u.unsqueeze(1) + 1) == 0 and distance_loss(u, None) == 0


# ---- a tiny GATE on real molecules ---------------------------------------------------------------


class TinyGate(nn.Module):
    """K tasks: shared h0 -> per-task D-MPNN -> Encoder MLP -> Transfer / Inverse / Head."""

    def __init__(self, K, d_v, d_e, d_h=24, d_z=12, d_lf=6):
        super().__init__()
        self.mp = BatchedBondMessagePassing(K, d_v, d_e, d_h, depth=3, shared_input=True)
        self.encoder_mlp = BatchedMLP(K, d_h, d_h, d_z, n_layers=1)
        self.transfer = BatchedMLP(K, d_z, d_z, d_lf, n_layers=1)
        self.inverse = BatchedMLP(K, d_lf, d_z, d_z, n_layers=1)
        self.head = BatchedMLP(K, d_z, d_z, 1, n_layers=1)

    def forward(self, bmg, n_perturbations=4, sigma=0.05, seed=0):
        h0 = self.mp.initial(bmg)
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n_perturbations, *h0.shape, generator=g) * sigma * h0.detach().std()
        h0_all = torch.cat([h0.unsqueeze(0), h0.unsqueeze(0) + noise])  # same perturbations for all
        z_all = self.encoder_mlp(self.mp.encode(bmg, h0_all))  # [K, 1 + M, B, d_z]
        u_all = self.transfer(z_all)
        z, u, u_pert = z_all[:, 0], u_all[:, 0], u_all[:, 1:]
        return dict(pred=self.head(z).squeeze(-1).T, z=z, z_rec=self.inverse(u), u=u, u_pert=u_pert,
                    predict_from_lf=lambda x, t: self.head(self.inverse(x, t), t))

    def task_modules(self):
        return {"mp": [self.mp.W_h_weight, self.mp.W_o_weight, self.mp.W_o_bias],
                "encoder_mlp": list(self.encoder_mlp.parameters()),
                "transfer": list(self.transfer.parameters()),
                "inverse": list(self.inverse.parameters()),
                "head": list(self.head.parameters())}


@pytest.fixture(scope="module")
def bmg():
    featurizer = SimpleMoleculeMolGraphFeaturizer()
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in SMILES])


def _tiny_gate(bmg, K, seed=0):
    torch.manual_seed(seed)
    return TinyGate(K, bmg.V.shape[1], bmg.E.shape[1])


def test_identical_tasks_have_zero_consistency_and_distance_loss(bmg):
    model = _tiny_gate(bmg, K=2)
    out = model(bmg)
    assert consistency_loss(out["u"]) > 1e-4 and distance_loss(out["u"], out["u_pert"]) > 1e-8

    with torch.no_grad():  # task 1 := task 0 (encoder and transfer)
        for params in model.task_modules().values():
            for p in params:
                p[1] = p[0]
    out = model(bmg)

    w = torch.ones(2, 2)
    for loss in (consistency_loss(out["u"]), consistency_loss(out["u"], w),
                 distance_loss(out["u"], out["u_pert"]), distance_loss(out["u"], out["u_pert"], w)):
        assert loss.abs() < 1e-7
    assert (out["u"][0] - out["u_pert"][0]).abs().max() > 0  # the perturbations did move the points


def test_mapping_gradient_reaches_source_encoder_and_target_head_only(bmg):
    """lambda = source 0 -> target 1 only: l_map = MSE(y_1, Head_1(Inverse_1(u_0))).

    Gradient must reach the shared h0 projection, task 0's D-MPNN, Encoder MLP and Transfer, and
    task 1's Inverse and Head; task 1's D-MPNN, Encoder MLP and Transfer and task 0's Inverse and
    Head must get exactly zero.
    """
    model = _tiny_gate(bmg, K=2)
    y = torch.randn(len(SMILES), 2, generator=torch.Generator().manual_seed(3))
    y[::3, 1] = float("nan")
    out = model(bmg)
    mapping_loss(out["u"], y, out["predict_from_lf"], weights=torch.tensor([[0.0, 1.0], [0.0, 0.0]])).backward()

    assert model.mp.W_i.weight.grad.abs().sum() > 0
    should_get = {"mp": 0, "encoder_mlp": 0, "transfer": 0, "inverse": 1, "head": 1}
    for name, params in model.task_modules().items():
        gets = should_get[name]
        for p in params:
            assert p.grad[gets].abs().sum() > 0, f"{name}[{gets}] should get gradient"
            assert torch.all(p.grad[1 - gets] == 0), f"{name}[{1 - gets}] should get no gradient"


def _loss_and_grads(model, bmg, y, mask):
    model.zero_grad()
    out = model(bmg)
    total, parts = total_loss(out["pred"], y, z=out["z"], z_rec=out["z_rec"], u=out["u"],
                              u_pert=out["u_pert"], predict_from_lf=out["predict_from_lf"], mask=mask)
    total.backward()
    return parts, [p.grad.clone() for p in model.parameters()]


def test_missing_labels_change_neither_loss_nor_gradients(bmg):
    model = _tiny_gate(bmg, K=3)
    g = torch.Generator().manual_seed(4)
    y = torch.randn(len(SMILES), 3, generator=g)
    y[1, 0] = float("nan")
    mask = torch.ones(len(SMILES), 3, dtype=torch.bool)
    mask[4, 2] = False

    parts, grads = _loss_and_grads(model, bmg, y, mask)
    y_changed = y.clone()
    y_changed[4, 2] = 1e3  # masked by `mask`
    y_changed[1, 0] = -7.0  # still missing for the mask below
    mask_changed = mask.clone()
    mask_changed[1, 0] = False
    parts_changed, grads_changed = _loss_and_grads(model, bmg, y_changed, mask_changed)

    for name in parts:
        assert torch.equal(parts[name], parts_changed[name]), name
    for a, b in zip(grads, grads_changed):
        assert torch.isfinite(a).all() and torch.equal(a, b)


def test_regression_loss_is_masked_per_task_mse_summed_over_tasks():
    pred = torch.tensor([[1.0, 0.0, 5.0], [2.0, 1.0, 5.0], [0.0, 3.0, 5.0]], requires_grad=True)
    nan = float("nan")
    y = torch.tensor([[0.0, nan, nan], [0.0, 0.0, nan], [nan, 1.0, nan]])  # task 2: no labels
    mask = torch.tensor([[True, True, True], [False, True, True], [True, True, True]])

    loss = regression_loss(pred, y, mask)
    loss.backward()

    assert torch.isclose(loss, torch.tensor(1.0 + (1.0 + 4.0) / 2))  # task 0: row 0 only
    assert torch.isclose(regression_loss(pred, y, mask, "pooled"), torch.tensor((1.0 + 1.0 + 4.0) / 3))
    assert torch.isfinite(pred.grad).all() and torch.all(pred.grad[:, 2] == 0)
    y2 = y.clone()
    y2[1, 0] = 100.0  # masked
    assert regression_loss(pred, y2, mask) == loss
    assert regression_loss(pred[:, 2:], y[:, 2:]) == 0


def test_autoencoding_loss_sums_per_task_mse():
    z = torch.zeros(2, 3, 4)
    z_rec = torch.zeros(2, 3, 4)
    z_rec[1] = 2.0
    assert autoencoding_loss(z, z_rec, "raw") == 4.0
    z = torch.arange(24.0).reshape(2, 3, 4)
    spread = ((z - z.mean(dim=1, keepdim=True)) ** 2).mean(dim=(1, 2))
    torch.testing.assert_close(autoencoding_loss(z, z + 1.0), (1.0 / spread).sum())


def test_total_loss_weights_and_switches(bmg):
    model = _tiny_gate(bmg, K=3)
    y = torch.randn(len(SMILES), 3, generator=torch.Generator().manual_seed(5))
    out = model(bmg)
    args = dict(z=out["z"], z_rec=out["z_rec"], u=out["u"], u_pert=out["u_pert"],
                predict_from_lf=out["predict_from_lf"])

    weights = GateLossWeights(alpha=0.5, beta=2.0, gamma=3.0, delta=10.0)
    total, parts = total_loss(out["pred"], y, weights=weights, **args)
    expected = parts["reg"] + 0.5 * parts["auto"] + 2 * parts["cons"] + 3 * parts["map"] + 10 * parts["dis"]
    torch.testing.assert_close(total.detach(), expected)
    assert set(parts) == {"reg", "auto", "cons", "map", "dis", "total"}

    defaults = GateLossWeights()
    total, parts = total_loss(out["pred"], y, weights=GateLossWeights(use_dis=False, gamma=0.0), **args)
    assert set(parts) == {"reg", "auto", "cons", "total"}
    torch.testing.assert_close(total.detach(), parts["reg"] + defaults.alpha * parts["auto"]
                               + defaults.beta * parts["cons"])


def test_distance_loss_gradient_is_finite_when_perturbation_is_zero():
    u = torch.randn(3, 4, 2, requires_grad=True)
    loss = distance_loss(u, u.detach().unsqueeze(1).expand(3, 2, 4, 2).clone(), torch.ones(3, 3))
    loss.backward()
    assert torch.isfinite(u.grad).all()


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_mapping_chunking_does_not_change_the_loss(chunk):
    from molgate.methods.gate_losses import chunk_pairs_by_target, mapping_pair_matrix

    u, y, inverse, head = _random_mapping_problem(K=5, B=20)
    predict = lambda x, t: head(inverse(x, t), t)  # noqa: E731
    reference = mapping_pair_matrix(u, y, predict, chunk=1000)
    torch.testing.assert_close(mapping_pair_matrix(u, y, predict, chunk=chunk), reference)
    targets = torch.tensor([2, 0, 2, 2, 1, 2])
    order, chunk_id, slot, chunk_target = chunk_pairs_by_target(targets, 4, 2)
    assert targets[order].tolist() == [0, 1, 2, 2, 2, 2]
    assert chunk_target.tolist() == [0, 1, 2, 2] and chunk_id.tolist() == [0, 1, 2, 2, 3, 3]
    assert slot.tolist() == [0, 0, 0, 1, 0, 1]


@pytest.mark.parametrize("batch_distances", [False, True])
def test_a_batch_of_one_molecule_gives_zero_scale_free_alignment_and_finite_gradients(batch_distances):
    """A last batch of one molecule (64n + 1 training molecules) has no spread: the scale-free terms
    are 0 there, not MSE / 1e-12 (which gave a loss of 1e10 and wrecked Adam's state)."""
    z = torch.randn(3, 1, 4, requires_grad=True)
    z_rec = z + 0.1 * torch.randn(3, 1, 4)
    u = torch.randn(3, 1, 2, requires_grad=True)
    u_pert = None if batch_distances else u.detach().unsqueeze(1) + 0.1 * torch.randn(3, 2, 1, 2)
    weights = torch.rand(3, 3)
    spread_free = [autoencoding_loss(z, z_rec), consistency_loss(u), consistency_loss(u, weights)]
    distances = [distance_loss(u, u_pert), distance_loss(u, u_pert, weights)]
    for part in spread_free + (distances if batch_distances else []):
        assert torch.isfinite(part) and abs(float(part)) < 1e-6
    # a molecule and its own perturbations still have distances to compare: that term stays
    assert all(torch.isfinite(d) for d in distances)
    from molgate.methods.gate_losses import consistency_matrix, distance_matrix

    for matrix in (consistency_matrix(u), distance_matrix(u, u_pert)):
        assert matrix.shape == (3, 3) and torch.isfinite(matrix).all()
    assert float(consistency_matrix(u).abs().sum()) == 0.0
    sum(spread_free + distances).backward()
    assert torch.isfinite(z.grad).all() and torch.isfinite(u.grad).all()
    two = torch.randn(3, 2, 2)  # two molecules: a spread exists and the terms are the usual ones
    assert float(consistency_loss(two)) > 0


def test_a_batch_of_one_molecule_in_the_gate_loss_keeps_only_the_well_defined_terms():
    """Through a tiny GATE on one real molecule: auto and consistency are 0, the regression,
    mapping and perturbation-distance terms are the usual finite ones, every gradient is finite."""
    one = BatchMolGraph([SimpleMoleculeMolGraphFeaturizer()(Chem.MolFromSmiles("CCO"))])
    model = _tiny_gate(one, K=3)
    y = torch.tensor([[0.5, -1.0, 2.0]])
    parts, grads = _loss_and_grads(model, one, y, torch.ones(1, 3, dtype=torch.bool))
    for name in ("auto", "cons"):
        assert abs(float(parts[name])) < 1e-6, name
    assert float(parts["reg"]) > 0 and float(parts["map"]) > 0 and torch.isfinite(parts["dis"])
    assert all(torch.isfinite(g).all() for g in grads)
