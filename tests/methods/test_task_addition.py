"""Task addition: frozen parts stay frozen, old predictions are bit-identical, the cache is exact."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgate import api
from molgate.errors import InputError
from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate_losses import GateLossWeights
from molgate.methods.extended_gate import ExtendedGATEModel, extend, gate_parts
from molgate.methods.frozen_context import cached_embeddings, frozen_context
from molgate.methods.task_addition import TaskAdditionModel, copy_task_modules, new_task_part
from molgate.train.checkpoint import load_model

from tests.conftest import SMALL

GATE = GateConfig(latent_size=16, lf_size=16, perturb_count=2)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, two_task_csv) -> Path:
    out = tmp_path_factory.mktemp("pre") / "gate"
    api.train(two_task_csv, targets=["freesolv", "doubled"], method="gate", out=out, gate=GATE, **SMALL)
    return out


@pytest.fixture(scope="module")
def new_task_csv(tmp_path_factory, freesolv) -> Path:
    """A new property on 80 molecules, 40 of which the pre-trained model never saw."""
    df = pd.concat([freesolv.iloc[80:120], freesolv.iloc[200:240]]).reset_index(drop=True)
    df["halved"] = df["freesolv"] / 2 - 3
    path = tmp_path_factory.mktemp("new") / "new.csv"
    df[["smiles", "halved"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def added(tmp_path_factory, pretrained, new_task_csv) -> Path:
    out = tmp_path_factory.mktemp("added") / "gate+halved"
    api.add_task(pretrained, new_task_csv, "halved", out, epochs=2, batch_size=32, progress=False)
    return out


def _digest(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under ``folder`` (recursively): content hash and modification time."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir",
                                         p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def _tiny_gate(n_tasks=2, sharing="trunk"):
    d_v, d_e = feature_dims(FeaturizerSettings())
    torch.manual_seed(0)
    return GATEModel(n_tasks, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16),
                     GateConfig(sharing=sharing, latent_size=8, lf_size=8, perturb_count=2))


def test_old_tasks_predictions_are_bit_identical(pretrained, added, freesolv):
    smiles = freesolv["smiles"].iloc[:150].tolist()
    before = api.PropertyRegressor.load(pretrained).predict(smiles)
    after = api.PropertyRegressor.load(added).predict(smiles)
    assert after.shape == (150, 3)
    assert np.array_equal(before, after[:, :2])  # bit for bit, not approximately
    assert np.isfinite(after[:, 2]).all()


def test_pretrained_folder_is_left_unchanged(tmp_path, pretrained, new_task_csv):
    before = _digest(pretrained)
    assert {"weights.pt", "config.json", "logs/metrics.csv"} <= set(before)  # subfolders too
    api.add_task(pretrained, new_task_csv, "halved", tmp_path / "x", epochs=1, progress=False)
    api.add_task(pretrained, new_task_csv, "halved", tmp_path / "y", epochs=1, progress=False,
                 perturbations="per_step", cache_frozen=False)
    assert _digest(pretrained) == before  # no file written, added, removed or touched


def test_extended_model_reloads_to_identical_predictions(added, freesolv):
    smiles = freesolv["smiles"].iloc[:40].tolist()
    model, config = load_model(added)
    assert config["method"] == "gate-extended" and config["tasks"] == ["freesolv", "doubled", "halved"]
    a = api.PropertyRegressor.load(added).predict(smiles)
    b = api.PropertyRegressor.load(added).predict(smiles)
    assert np.array_equal(a, b)
    assert isinstance(model, ExtendedGATEModel) and len(model.added) == 1


def test_tasks_can_be_added_one_after_another(tmp_path, added, freesolv):
    df = freesolv.iloc[:60].copy()
    df["tripled"] = 3 * df["freesolv"]
    path = tmp_path / "third.csv"
    df[["smiles", "tripled"]].to_csv(path, index=False)
    out = tmp_path / "two-added"
    api.add_task(added, path, "tripled", out, epochs=1, batch_size=32, progress=False)
    smiles = freesolv["smiles"].iloc[:30].tolist()
    before = api.PropertyRegressor.load(added).predict(smiles)
    after = api.PropertyRegressor.load(out).predict(smiles)
    assert after.shape == (30, 4)
    assert np.array_equal(before, after[:, :3])
    metrics = api.evaluate(out, plots=False)
    assert set(metrics) == {"freesolv", "doubled", "halved", "tripled"}


def test_existing_task_is_refused(tmp_path, pretrained, two_task_csv):
    with pytest.raises(InputError, match="already exists") as info:
        api.add_task(pretrained, two_task_csv, "doubled", tmp_path / "x", progress=False)
    assert info.value.column == "doubled"


def test_non_gate_model_is_refused(tmp_path, two_task_csv, new_task_csv):
    api.train(two_task_csv, targets=["freesolv"], method="mtl", out=tmp_path / "mtl", **SMALL)
    with pytest.raises(InputError, match="GATE model"):
        api.add_task(tmp_path / "mtl", new_task_csv, "halved", tmp_path / "x", progress=False)


def test_out_must_differ_from_the_model(pretrained, new_task_csv):
    with pytest.raises(InputError, match="new folder"):
        api.add_task(pretrained, new_task_csv, "halved", pretrained, progress=False)


def test_evaluate_and_predict_cover_the_new_task(added, new_task_csv, tmp_path):
    metrics = api.evaluate(added)
    assert set(metrics) == {"freesolv", "doubled", "halved"}
    assert metrics["halved"]["n"] > 0
    assert (added / "lf_frame.png").exists()
    frame = api.predict(added, new_task_csv, out=tmp_path / "p.csv")
    # the input's own 'halved' column keeps its place and holds the prediction; then the domain
    assert list(frame.columns) == ["smiles", "halved", "freesolv", "doubled", "nn_similarity", "in_domain"]


def test_only_the_new_modules_get_gradients(freesolv):
    frozen = _tiny_gate()
    new = new_task_part(frozen)
    view = TaskAdditionModel(frozen, new)
    graphs = featurize(freesolv["smiles"].iloc[:16].tolist(), cache=False, progress=False)
    y = freesolv["freesolv"].iloc[:16].to_numpy()[:, None]
    batch = next(iter(make_loader(GraphDataset(graphs, y), 16)))
    loss, parts = view.training_loss(batch)
    loss.backward()
    assert set(parts) >= {"reg", "auto", "cons", "map", "dis"}
    assert all(p.grad is None for p in frozen.parameters())
    missing = [n for n, p in new.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


def test_new_encoder_starts_from_the_pretrained_trunk():
    frozen = _tiny_gate()
    new = new_task_part(frozen)
    for a, b in zip(frozen.trunk.parameters(), new.trunk.parameters()):
        assert torch.equal(a, b)
    random_init = new_task_part(frozen, init_encoder="random")
    assert not all(torch.equal(a, b) for a, b in zip(frozen.trunk.parameters(), random_init.trunk.parameters()))


@pytest.mark.parametrize("sharing", ["trunk", "separate"])
def test_cached_loss_equals_uncached_loss(freesolv, sharing):
    """The cache changes the cost, not the loss: same perturbation draws give the same value."""
    frozen = extend(_tiny_gate(sharing=sharing), new_task_part(_tiny_gate(sharing=sharing)))
    view = TaskAdditionModel(frozen, new_task_part(frozen))
    graphs = featurize(freesolv["smiles"].iloc[:12].tolist(), cache=False, progress=False)
    y = freesolv["freesolv"].iloc[:12].to_numpy()[:, None]
    context = cached_embeddings(frozen, graphs)
    if sharing == "separate":
        assert context is None
    else:
        assert context.shape == (12, 2 * 16)
    plain = next(iter(make_loader(GraphDataset(graphs, y), 12)))
    cached = next(iter(make_loader(GraphDataset(graphs, y, context), 12)))
    torch.manual_seed(3)
    a, _ = view.training_loss(plain)
    torch.manual_seed(3)
    b, _ = view.training_loss(cached)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sharing", ["trunk", "separate"])
def test_cached_lf_points_give_the_uncached_loss_without_running_the_frozen_model(freesolv, sharing):
    """Without perturbations (batch distances) the frozen LF points are cached whole."""
    from dataclasses import replace

    frozen = extend(_tiny_gate(sharing=sharing), new_task_part(_tiny_gate(sharing=sharing)))
    new = new_task_part(frozen, replace(frozen.base.gate, weights=GateLossWeights(distance_form="batch")))
    graphs = featurize(freesolv["smiles"].iloc[:12].tolist(), cache=False, progress=False)
    y = freesolv["freesolv"].iloc[:12].to_numpy()[:, None]
    context, kind, _ = frozen_context(frozen, new, graphs)
    assert kind == "lf" and context.shape == (12, 3 * 8)
    plain = next(iter(make_loader(GraphDataset(graphs, y), 12)))
    cached = next(iter(make_loader(GraphDataset(graphs, y, context), 12)))
    a, _ = TaskAdditionModel(frozen, new).training_loss(plain)
    calls = []
    hooks = [p.transfer.register_forward_pre_hook(lambda *args: calls.append(1)) for p in gate_parts(frozen)]
    TaskAdditionModel(frozen, new).training_loss(plain)
    assert calls  # the uncached view does run the frozen modules
    calls.clear()
    b, _ = TaskAdditionModel(frozen, new, kind).training_loss(cached)
    for hook in hooks:
        hook.remove()
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6) and calls == []
    perturbed = new_task_part(frozen)
    assert frozen_context(frozen, perturbed, graphs, perturbations="per_step").kind == "trunk"
    assert frozen_context(frozen, perturbed, graphs).kind == ("bank" if sharing == "trunk" else "trunk")


def test_alignment_loss_is_zero_when_the_new_task_copies_a_frozen_one(freesolv):
    """A new part identical to the only frozen task sits on the same LF points: C = D = 0."""
    frozen = _tiny_gate(n_tasks=1)
    new = new_task_part(frozen)
    new.load_state_dict(frozen.state_dict())
    view = TaskAdditionModel(frozen, new)
    graphs = featurize(freesolv["smiles"].iloc[:10].tolist(), cache=False, progress=False)
    batch = next(iter(make_loader(GraphDataset(graphs, np.zeros((10, 1))), 10)))
    _, parts = view.training_loss(batch)
    assert float(parts["cons"]) == pytest.approx(0.0, abs=1e-10)
    assert float(parts["dis"]) == pytest.approx(0.0, abs=1e-8)


def test_mapping_term_is_the_new_heads_on_every_frozen_source(freesolv):
    """P[a, n] = MSE(y_n, Head_n(Inverse_n(u_a))) over the labelled molecules, for each frozen a."""
    frozen = _tiny_gate(n_tasks=2)
    new = new_task_part(frozen)
    new.gate.weights = GateLossWeights(use_auto=False, use_cons=False, use_dis=False)
    view = TaskAdditionModel(frozen, new)
    graphs = featurize(freesolv["smiles"].iloc[:20].tolist(), cache=False, progress=False)
    bmg = next(iter(make_loader(GraphDataset(graphs), 20))).bmg
    with torch.no_grad():
        u_old = frozen.lf_points(bmg)[1]  # [2, B, d_lf]
        mapped = [new.head(new.inverse(u_old[a].unsqueeze(0))).reshape(-1) for a in range(2)]
    # labels at source 0's mapped values (P[0, n] = 0), so P is the sources' disagreement only
    y = mapped[0].numpy()[:, None].astype(float).copy()
    y[::3] = np.nan  # unlabelled molecules take no part
    batch = next(iter(make_loader(GraphDataset(graphs, y), 20)))
    _, parts = view.training_loss(batch)
    labelled = torch.as_tensor(~np.isnan(y[:, 0]))
    target = mapped[0][labelled]
    expected = sum(float(((m[labelled] - target) ** 2).mean()) for m in mapped) / 2  # target_mean over 2
    assert expected > 0
    assert float(parts["map"]) == pytest.approx(expected, rel=1e-4)


def test_stacked_passes_give_the_terms_and_gradients_of_separate_calls(freesolv, monkeypatch):
    """Head(z), Inverse(u) and the mapping's Head(Inverse(u_a)) run on stacked rows: the same
    function as one call each, in value and gradient (unlabelled molecules included)."""
    frozen = _tiny_gate(n_tasks=3)
    new = new_task_part(frozen)
    view = TaskAdditionModel(frozen, new, map_sources=2)
    graphs = featurize(freesolv["smiles"].iloc[:20].tolist(), cache=False, progress=False)
    y = freesolv["freesolv"].iloc[:20].to_numpy(dtype=float)[:, None].copy()
    y[::4] = np.nan
    batch = next(iter(make_loader(GraphDataset(graphs, y), 20)))

    def terms_and_grads():
        torch.manual_seed(0)  # the same mapping sources drawn
        new.zero_grad()
        loss, parts = view.training_loss(batch)
        loss.backward()
        return parts, {n: p.grad.clone() for n, p in new.named_parameters()}

    stacked = terms_and_grads()

    def separate(self, z, u, x_map):
        mapped = None if x_map is None else self.new.map_to_target(
            x_map.reshape(1, -1, x_map.shape[-1]), None).reshape(x_map.shape[:2])
        return self.new.predict_from_latent(z), None if u is None else self.new.inverse(u), mapped

    monkeypatch.setattr(TaskAdditionModel, "_new_task_passes", separate)
    reference = terms_and_grads()
    assert set(stacked[0]) >= {"reg", "auto", "map"} and float(stacked[0]["map"]) > 0
    for name, value in reference[0].items():
        assert float(stacked[0][name]) == pytest.approx(float(value), rel=1e-5, abs=1e-8), name
    for name, grad in reference[1].items():
        torch.testing.assert_close(stacked[1][name], grad, rtol=1e-4, atol=1e-6)
    assert any(float(g.abs().sum()) > 0 for n, g in reference[1].items() if n.startswith("inverse"))


def test_gate_parts_of_plain_and_extended_models():
    base = _tiny_gate()
    assert gate_parts(base) == [base]
    ext = extend(base, new_task_part(base))
    assert gate_parts(ext)[0] is base and ext.n_tasks == 3
    assert torch.equal(ext.scaler.mean[:2], base.scaler.mean)


def test_add_task_reuses_a_split_file(tmp_path, pretrained, new_task_csv):
    split_file = api.make_splits(new_task_csv, tmp_path / "splits", kinds=("random",), seeds=(3,))[0]
    out = tmp_path / "with-split"
    api.add_task(pretrained, new_task_csv, "halved", out, split_file=split_file, epochs=1, progress=False)
    import json

    assert json.loads((out / "split.json").read_text())["test"] == json.loads(split_file.read_text())["test"]


def test_copy_task_modules_starts_the_new_part_as_that_frozen_tasks_predictor(freesolv):
    frozen = extend(_tiny_gate(n_tasks=2), new_task_part(_tiny_gate(n_tasks=2)))
    with torch.no_grad():  # the added part (task 2) has a trunk of its own
        for p in frozen.added[0].trunk.parameters():
            p.add_(0.1 * torch.randn_like(p))
    graphs = featurize(freesolv["smiles"].iloc[:12].tolist(), cache=False, progress=False)
    bmg = next(iter(make_loader(GraphDataset(graphs), 12))).bmg
    frozen.eval()
    with torch.no_grad():
        before = frozen(bmg)
        for task in (1, 2):  # in the base part, and in the added part
            for sign in (1.0, -1.0):
                new = new_task_part(frozen, init_encoder="related").eval()
                copy_task_modules(frozen, task, new, sign)
                assert torch.allclose(new(bmg)[:, 0], sign * before[:, task], atol=1e-6)
        assert frozen(bmg).equal(before)  # the frozen side is only read
    with pytest.raises(ValueError, match="not in the frozen model"):
        copy_task_modules(frozen, 3, new)
    from dataclasses import replace

    narrow = new_task_part(frozen, replace(frozen.base.gate, latent_size=4))
    with pytest.raises(ValueError, match="not shaped like"):
        copy_task_modules(frozen, 0, narrow)
