"""The GATE model end to end: both sharing modes, losses switched on and off, checkpoints."""

import json

import numpy as np
import pytest
import torch

from molgate import api
from molgate.cli.main import main
from molgate.featurize.batching import GraphDataset
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate import set_transfer_ratios
from molgate.methods.gate_losses import GateLossWeights

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "ClC(Cl)Cl", "CCCCCC", "OCCO", "c1ccncc1"]
SMALL_ENC = EncoderConfig(hidden_size=16, ffn_hidden_size=8)


def small_gate(sharing="trunk", n_tasks=3, **weights):
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    return GATEModel(n_tasks, d_v, d_e, SMALL_ENC,
                     GateConfig(sharing, latent_size=8, lf_size=6, weights=GateLossWeights(**weights)))


@pytest.fixture(scope="module")
def batch():
    graphs = featurize(SMILES, progress=False)
    y = np.full((len(SMILES), 3), np.nan)
    y[:5, 0] = np.arange(5)
    y[3:, 1] = -np.arange(5)
    y[::2, 2] = 1.0
    return GraphDataset(graphs, y).collate(list(range(len(SMILES))))


@pytest.mark.parametrize("sharing", ["trunk", "separate"])
def test_all_losses_are_finite_and_train_every_module(batch, sharing):
    model = small_gate(sharing)
    loss, parts = model.training_loss(batch)
    assert set(parts) == {"reg", "auto", "cons", "map", "dis", "total"}
    assert torch.isfinite(loss) and all(v > 0 for k, v in parts.items())
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_ablations_switch_terms_off(batch):
    model = small_gate(use_auto=False, use_cons=False, use_map=False, use_dis=False)
    loss, parts = model.training_loss(batch)
    assert set(parts) == {"reg", "total"}
    torch.testing.assert_close(loss, parts["reg"])
    # with every alignment term off, Transfer and Inverse receive no gradient
    loss.backward()
    assert model.transfer.layers[0].weight.grad is None
    assert model.inverse.layers[0].weight.grad is None


def test_zero_transfer_ratios_remove_every_pair_term(batch):
    model = small_gate()
    set_transfer_ratios(model, torch.zeros(3, 3))
    torch.manual_seed(1)
    _, parts = model.training_loss(batch)
    assert parts["cons"] == 0 and parts["map"] == 0 and parts["dis"] == 0
    assert parts["auto"] > 0


@pytest.mark.parametrize("sharing", ["trunk", "separate"])
def test_a_batch_of_one_molecule_gives_a_finite_loss(sharing):
    """The last batch of an epoch can hold one molecule: its batch spread is 0, not NaN."""
    graphs = featurize(SMILES[:1], progress=False)
    one = GraphDataset(graphs, np.array([[1.0, np.nan, 0.5]])).collate([0])
    loss, parts = small_gate(sharing).training_loss(one)
    assert torch.isfinite(loss) and all(torch.isfinite(v) for v in parts.values())


def test_perturbations_are_shared_by_every_task_and_scaled_by_batch_spread():
    model = small_gate()
    e = torch.randn(50, 16) * torch.linspace(0.1, 10, 16)
    torch.manual_seed(0)
    noisy = model.perturb(e, model.perturbation_noise(e, 200))
    assert noisy.shape == (200, 50, 16)
    ratio = (noisy - e).std(dim=(0, 1)) / e.std(dim=0)
    torch.testing.assert_close(ratio, torch.full((16,), 0.05), rtol=0.1, atol=0)


def test_predictions_do_not_depend_on_the_alignment_modules(batch):
    model = small_gate().eval()
    before = model(batch.bmg)
    with torch.no_grad():
        for p in list(model.transfer.parameters()) + list(model.inverse.parameters()):
            p.add_(1.0)
    torch.testing.assert_close(model(batch.bmg), before)


@pytest.fixture(scope="module")
def trained_gate(tmp_path_factory, two_task_csv):
    data, out = two_task_csv, tmp_path_factory.mktemp("gate") / "g"
    assert main(["train", "--data", str(data), "--method", "gate", "--sharing", "separate",
                 "--out", str(out), "--epochs", "2", "--hidden-size", "16", "--ffn-hidden-size",
                 "8", "--latent-size", "8", "--lf-size", "8", "--beta", "0.5", "--perturb-count",
                 "2", "--pair-reduction", "sum", "--encoder-layers", "2", "--transfer-layers", "0",
                 "--no-progress"]) == 0
    return data, out


def test_gate_checkpoint_reloads_to_identical_predictions(trained_gate):
    data, out = trained_gate
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "gate" and config["gate"]["sharing"] == "separate"
    assert config["gate"]["weights"]["beta"] == 0.5 and config["gate"]["perturb_count"] == 2
    assert config["gate"]["weights"]["pair_reduction"] == "sum"
    assert config["gate"]["encoder_layers"] == 2 and config["gate"]["transfer_layers"] == 0
    a = api.predict(out, data)
    b = api.predict(out, data)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    est = api.PropertyRegressor.load(out)
    assert est.model_.gate.sharing == "separate"
    assert len(est.model_.encoder_mlp.layers) == 3 and len(est.model_.transfer.layers) == 1
    assert torch.equal(est.model_.transfer_ratios, torch.ones(2, 2))


def test_gate_training_logs_each_loss(trained_gate):
    import pandas as pd

    log = pd.read_csv(trained_gate[1] / "logs" / "metrics.csv")
    for part in ("train_reg", "train_auto", "train_cons", "train_map", "train_dis"):
        assert log[part].notna().any(), part


def test_evaluate_draws_the_lf_frame_and_latent_spaces(trained_gate):
    _, out = trained_gate
    api.evaluate(out)
    for name in ("lf_frame.png", "latent_spaces.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_gate_pair_needs_target_and_source(trained_gate, tmp_path, capsys):
    data, _ = trained_gate
    assert main(["train", "--data", str(data), "--method", "gate-pair", "--target", "doubled",
                 "--out", str(tmp_path / "p")]) == 2
    assert "--target T and --source S" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--method", "gate-pair", "--target", "doubled",
                 "--source", "freesolv", "--out", str(tmp_path / "p"), "--epochs", "1",
                 "--hidden-size", "16", "--latent-size", "8", "--lf-size", "8", "--no-progress"]) == 0
    config = json.loads((tmp_path / "p" / "config.json").read_text())
    assert config["method"] == "gate-pair" and config["tasks"] == ["doubled", "freesolv"]


@pytest.mark.parametrize("ratios", ["ones", "random"])
def test_loss_split_reassembles_the_training_loss(batch, ratios):
    model = small_gate()
    if ratios == "random":
        set_transfer_ratios(model, torch.rand(3, 3, generator=torch.Generator().manual_seed(0)) * 2)
    torch.manual_seed(3)
    loss, _ = model.training_loss(batch)
    torch.manual_seed(3)  # the same perturbations
    base, pairs = model.loss_split(batch)
    assert pairs.shape == (3, 3) and torch.all(pairs.diagonal() == 0)
    torch.testing.assert_close(base + (model.transfer_ratios * pairs).sum(), loss)


# ---- the pair setting, the regression reduction, the per-term diagnostics ------------------------


@pytest.mark.parametrize("sharing", ["trunk", "separate"])
def test_gate_pair_source_gets_no_gradient_from_the_pair_terms(batch, sharing):
    """Target = task 0, source = task 1: cons, map and dis move only the target's modules."""
    from molgate.methods.gate import GatePairModel

    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    model = GatePairModel(2, d_v, d_e, SMALL_ENC, GateConfig(sharing, latent_size=8, lf_size=6))
    assert model.gate.weights.detach_sources
    assert torch.equal(model.transfer_ratios, torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    two_task = type(batch)(batch.bmg, batch.y[:, :2], batch.mask[:, :2], None)
    terms, weights = model.loss_terms(two_task)
    per_task = [model.encoder_mlp, model.transfer, model.inverse, model.head]
    if sharing == "separate":
        per_task.append(model.message_passing)
    pair = sum(weights[n] * terms[n] for n in ("cons", "map", "dis"))
    pair.backward()
    stacked = [p for m in per_task for p in m.parameters() if p.dim() >= 2 and p.shape[0] == 2]
    assert stacked
    for p in stacked:
        assert p.grad is None or torch.all(p.grad[1] == 0), "the source must get no pair gradient"
    assert any(p.grad is not None and p.grad[0].abs().sum() > 0 for p in stacked)
    # the source's own regression still trains it
    model.zero_grad()
    model.loss_terms(two_task)[0]["reg"].backward()
    assert model.head.layers[0].weight.grad[1].abs().sum() > 0


def test_regression_reduction_is_the_same_in_training_and_checkpoint_selection(batch):
    from molgate.methods.regression import regression_loss
    from molgate.train.module import RegressionModule, TrainSettings

    for reduction in ("pooled", "per-task"):
        model = small_gate(use_auto=False, use_cons=False, use_map=False, use_dis=False)
        module = RegressionModule(model, TrainSettings(reduction=reduction))
        assert model.reduction == reduction
        _, parts = model.training_loss(batch)
        with torch.no_grad():
            expected = regression_loss(model(batch.bmg), batch.y, batch.mask, reduction)
        torch.testing.assert_close(parts["reg"], expected)
        # the validation loss that early stopping and BestWeights watch: same reduction, whole set
        module._val.update(model(batch.bmg), batch.y, batch.mask)
        assert abs(module._val.value(reduction) - float(expected)) < 1e-6
    pooled, per_task = (regression_loss(torch.zeros(8, 3), batch.y, batch.mask, r) for r in ("pooled", "per-task"))
    assert not torch.isclose(pooled, per_task)


def test_term_diagnostics_report_every_terms_gradient_share(batch):
    from molgate.train.diagnostics import term_gradient_norms

    model = small_gate("separate")
    values = term_gradient_norms(model, batch)
    for term in ("reg", "auto", "cons", "map", "dis"):
        assert values[f"{term}_value"] > 0
        for group in ("shared", "encoders", "transfer"):
            assert values[f"{term}_grad_{group}"] >= 0
    assert values["reg_share"] == pytest.approx(1.0)
    assert values["reg_grad_transfer"] == 0.0  # the regression does not go through Transfer
    assert values["cons_share"] > 0 and values["dis_share"] > 0


def test_training_logs_term_diagnostics_and_evaluate_draws_them(trained_gate):
    import pandas as pd

    _, out = trained_gate
    log = pd.read_csv(out / "logs" / "metrics.csv")
    for column in ("diag_cons_share", "diag_dis_grad_shared", "diag_map_grad_transfer", "diag_reg_value"):
        assert log[column].notna().any(), column
    api.evaluate(out)
    assert (out / "loss_terms.png").read_bytes()[:4] == b"\x89PNG"


def test_narrow_separate_encoders_with_batch_distances_train_every_module(batch):
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    gate = GateConfig("separate", latent_size=8, lf_size=6, task_hidden_size=4,
                      weights=GateLossWeights(distance_form="batch"))
    model = GATEModel(3, d_v, d_e, SMALL_ENC, gate)
    assert model.message_passing.W_h_weight.shape[-1] == 4
    torch.manual_seed(1)
    state = torch.random.get_rng_state()
    loss, parts = model.training_loss(batch)
    assert torch.equal(torch.random.get_rng_state(), state)  # no perturbation drawn
    assert set(parts) == {"reg", "auto", "cons", "map", "dis", "total"} and parts["dis"] > 0
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_cli_alignment_options_reach_the_saved_model(trained_gate, tmp_path):
    data, _ = trained_gate
    out = tmp_path / "opts"
    assert main(["train", "--data", str(data), "--method", "gate", "--sharing", "separate",
                 "--task-hidden-size", "8", "--alignment-form", "raw", "--distance-form", "batch",
                 "--map-sources", "1", "--reduction", "pooled", "--out", str(out), "--epochs", "1", "--hidden-size", "16",
                 "--latent-size", "8", "--lf-size", "8", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["gate"]["task_hidden_size"] == 8 and config["training"]["reduction"] == "pooled"
    assert config["gate"]["weights"]["form"] == "raw" and config["gate"]["weights"]["distance_form"] == "batch"
    assert config["gate"]["weights"]["map_sources"] == 1
    assert api.PropertyRegressor.load(out).train_settings.reduction == "pooled"
    mtl = tmp_path / "mtl"
    assert main(["train", "--data", str(data), "--method", "mtl", "--out", str(mtl), "--epochs", "1",
                 "--hidden-size", "16", "--no-progress"]) == 0
    assert json.loads((mtl / "config.json").read_text())["training"]["reduction"] == "pooled"
    with pytest.raises(SystemExit):
        main(["train", "--data", str(data), "--reduction", "mean", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit):
        main(["train", "--data", str(data), "--map-sources", "0", "--out", str(tmp_path / "x")])


def test_cli_weight_defaults_are_the_models():
    import argparse

    from molgate.cli.main import _add_gate_options

    parser = argparse.ArgumentParser()
    _add_gate_options(parser)
    a = parser.parse_args([])
    defaults = GateLossWeights()
    assert (a.alpha, a.beta, a.gamma, a.delta) == (defaults.alpha, defaults.beta, defaults.gamma, defaults.delta)
    assert a.alignment_form == defaults.form and a.distance_form == defaults.distance_form
