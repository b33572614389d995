"""Learned transfer ratios: the hypergradient is the derivative of the one-step-unrolled validation
loss, and the outer loop turns a noise source down."""

import numpy as np
import pytest
import torch

from molgate.featurize.batching import GraphDataset
from molgate.featurize.graphs import feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate import set_transfer_ratios
from molgate.methods.gate_losses import GateLossWeights
from molgate.methods.transfer_ratios import RatioSettings, TransferRatioLearner

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "ClC(Cl)Cl", "CCCCCC", "OCCO", "c1ccncc1",
          "CCOC(C)=O", "CC(C)O", "CCCl", "c1ccc(C)cc1"]


def double_batch(smiles, y):
    b = GraphDataset(featurize(smiles, progress=False), y).collate(list(range(len(smiles))))
    b.bmg.V, b.bmg.E = b.bmg.V.double(), b.bmg.E.double()
    return b._replace(y=b.y.double())


@pytest.fixture()
def problem():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(len(SMILES), 3))
    y[rng.random(y.shape) < 0.3] = np.nan
    train, val = double_batch(SMILES[:8], y[:8]), double_batch(SMILES[8:], y[8:])
    torch.manual_seed(0)
    d_v, d_e = feature_dims()
    model = GATEModel(3, d_v, d_e, EncoderConfig(hidden_size=12, ffn_hidden_size=6),
                      GateConfig("trunk", latent_size=6, lf_size=5, perturb_count=2)).double()
    set_transfer_ratios(model, torch.tensor([[0, 0.7, 1.3], [1.1, 0, 0.4], [0.9, 1.6, 0]]))
    return model, train, val


@pytest.mark.parametrize("method", ["jvp", "finite-difference"])
def test_hypergradient_equals_finite_difference_of_unrolled_validation_loss(problem, method):
    model, train, val = problem
    learner = TransferRatioLearner(model, RatioSettings(hypergradient=method))
    eta = 0.05
    hyper = learner.hypergradient(train, val, eta, seed=7)
    lam = model.transfer_ratios.detach().clone()
    eps = 1e-4
    for a, t in [(0, 1), (2, 0), (1, 2)]:
        bump = torch.zeros_like(lam)
        bump[a, t] = eps
        fd = (learner.unrolled_validation_loss(lam + bump, train, val, eta, seed=7)
              - learner.unrolled_validation_loss(lam - bump, train, val, eta, seed=7)) / (2 * eps)
        assert hyper[a, t].item() == pytest.approx(fd.item(), rel=1e-3, abs=1e-9), (a, t)
    assert torch.all(hyper.diagonal() == 0)


def _adam_state(model, steps=3, seed=1):
    """A real Adam state on the model's parameters (a few steps on random gradients), as training has."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for _ in range(steps):
        opt.zero_grad()
        for p in model.parameters():
            p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype) * torch.rand((), generator=g, dtype=p.dtype)
        opt.step()
    model.load_state_dict(saved)  # the state stays, the weights go back
    return opt


@pytest.mark.parametrize("several_val_batches", [False, True])
def test_adam_preconditioned_hypergradient_equals_finite_difference_of_the_adam_unroll(problem,
                                                                                        several_val_batches):
    model, train, val = problem
    learner = TransferRatioLearner(model, RatioSettings(preconditioner="adam"))
    precondition = learner.adam_preconditioner(_adam_state(model))
    assert set(precondition) == {k for k, _ in model.named_parameters()}
    spread = torch.cat([p.flatten() for p in precondition.values()])
    assert spread.max() / spread.min() > 10  # a real, uneven preconditioner
    vals = [val, double_batch(SMILES[:4], np.random.default_rng(5).normal(size=(4, 3)))] if several_val_batches else val
    eta = 1e-3
    hyper = learner.hypergradient(train, vals, eta, seed=7, precondition=precondition)
    lam = model.transfer_ratios.detach().clone()
    eps = 1e-4
    for a, t in [(0, 1), (2, 0), (1, 2)]:
        bump = torch.zeros_like(lam)
        bump[a, t] = eps
        fd = (learner.unrolled_validation_loss(lam + bump, train, vals, eta, 7, precondition)
              - learner.unrolled_validation_loss(lam - bump, train, vals, eta, 7, precondition)) / (2 * eps)
        assert hyper[a, t].item() == pytest.approx(fd.item(), rel=1e-3, abs=1e-9), (a, t)
    plain = learner.hypergradient(train, vals, eta, seed=7)
    assert not torch.allclose(plain, hyper)  # the preconditioner does change the direction
    assert TransferRatioLearner(model, RatioSettings(preconditioner="sgd")).adam_preconditioner(
        _adam_state(model)) is None


def test_softmax_ratios_make_each_targets_sources_share_one_budget(problem):
    model, train, val = problem
    learner = TransferRatioLearner(model, RatioSettings(parameterization="softmax"))
    torch.testing.assert_close(learner.ratios().detach(), model.transfer_ratios, rtol=1e-4, atol=1e-4)
    for _ in range(3):
        learner.step(train, val, eta=0.05)
    lam = learner.ratios().detach()
    scale = torch.nn.functional.softplus(learner.psi.detach())
    torch.testing.assert_close(lam.sum(dim=0), (3 - 1) * scale)  # the column's budget
    assert torch.all(lam.diagonal() == 0) and torch.all(lam >= 0)
    # raising one source's share lowers the others' in the same column
    with torch.no_grad():
        learner.phi[1, 0] += 1.0
    after = learner.ratios().detach()
    assert after[1, 0] > lam[1, 0] and after[2, 0] < lam[2, 0]
    torch.testing.assert_close(after[:, 1:], lam[:, 1:])


def test_lambda_and_checkpoint_selection_use_disjoint_validation_parts():
    from molgate.methods.transfer_ratios import split_validation

    val = np.arange(100, 160)
    drive, select = split_validation(val, 0.5, seed=3)
    assert len(drive) == 30 and len(select) == 30
    assert not set(drive) & set(select) and set(drive) | set(select) == set(val)
    again = split_validation(val, 0.5, seed=3)
    assert np.array_equal(again[0], drive)
    with pytest.raises(ValueError, match="val_fraction"):
        RatioSettings(val_fraction=1.0)


def test_jvp_and_finite_difference_agree(problem):
    model, train, val = problem
    a = TransferRatioLearner(model, RatioSettings(hypergradient="jvp")).hypergradient(train, val, 0.1, 3)
    b = TransferRatioLearner(model, RatioSettings(hypergradient="finite-difference")).hypergradient(
        train, val, 0.1, 3)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-10)


@pytest.mark.parametrize("parameterization", ["softplus", "sigmoid", "softmax"])
def test_ratios_start_at_the_models_and_keep_a_zero_diagonal(problem, parameterization):
    model, train, val = problem
    learner = TransferRatioLearner(model, RatioSettings(parameterization=parameterization))
    torch.testing.assert_close(learner.ratios().detach(), model.transfer_ratios, rtol=1e-4, atol=1e-4)
    lam = learner.step(train, val, eta=0.05)
    assert torch.all(lam.diagonal() == 0) and torch.all(lam >= 0)
    assert len(learner.history) == 1
    torch.testing.assert_close(model.transfer_ratios, lam)
    with pytest.raises(ValueError, match="parameterization"):
        RatioSettings(parameterization="exp")


def test_noise_source_ends_with_a_lower_ratio_than_a_helpful_one(tmp_path, freesolv):
    """Target: 30% of FreeSolv labelled; helpful source: 2*target+1 on every molecule; noise source:
    Gaussian noise. The learned lambda[noise -> target] must end clearly below lambda[helpful -> target].

    Run with the raw alignment form at weights 1 (the earlier defaults), where the label-space
    mapping term dominates the pair terms.
    With the scale-free default both ratios fall together on this toy (0.169 vs 0.170 after 25
    epochs): making the ratios select under the new terms is the transfer-ratio issue's work."""
    import json

    from molgate import api

    df = freesolv.iloc[:300].copy()
    rng = np.random.default_rng(0)
    df["target"] = np.where(rng.random(len(df)) < 0.3, df["freesolv"], np.nan)
    df["helpful"] = df["freesolv"] * 2 + 1
    df["noise"] = rng.normal(size=len(df))
    data = tmp_path / "toy.csv"
    df.drop(columns="freesolv").to_csv(data, index=False)
    api.train(data, method="gate", split="random", epochs=25, patience=25, out=tmp_path / "m",
              progress=False, hidden_size=32, ffn_hidden_size=32,
              gate=GateConfig(latent_size=16, lf_size=16, perturb_count=2,
                                weights=GateLossWeights(1.0, 1.0, 1.0, 1.0, form="raw")),
                  transfer_ratios="learned",
              ratio_settings=RatioSettings(interval=1, outer_lr=0.2))
    history = json.loads((tmp_path / "m" / "transfer_ratios_history.json").read_text())
    final = np.array(history["steps"][-1])
    tasks = history["tasks"]
    helpful, noise = final[tasks.index("helpful"), 0], final[tasks.index("noise"), 0]
    assert noise < 0.9 * helpful, (noise, helpful)
    saved = json.loads((tmp_path / "m" / "transfer_ratios.json").read_text())
    assert set(saved["helpful"]) == {"target", "noise"}  # source -> target -> value, no diagonal
    assert (tmp_path / "m" / "transfer_ratios.png").read_bytes()[:4] == b"\x89PNG"


TINY = ["--epochs", "1", "--hidden-size", "16", "--ffn-hidden-size", "8", "--latent-size", "8",
        "--lf-size", "8", "--perturb-count", "2", "--no-progress"]


def test_cli_fixed_grid_and_learned_ratios(tmp_path, two_task_csv, capsys):
    import json

    from molgate.cli.main import main

    ratios = tmp_path / "r.json"
    ratios.write_text(json.dumps({"freesolv": {"doubled": 0.25}, "doubled": {"freesolv": 2.0}}))
    assert main(["train", "--data", str(two_task_csv), "--method", "gate", "--transfer-ratios", "fixed",
                 "--ratios-file", str(ratios), "--out", str(tmp_path / "fixed"), *TINY]) == 0
    saved = json.loads((tmp_path / "fixed" / "transfer_ratios.json").read_text())
    assert saved == {"freesolv": {"doubled": 0.25}, "doubled": {"freesolv": 2.0}}

    assert main(["train", "--data", str(two_task_csv), "--method", "gate", "--transfer-ratios", "grid",
                 "--grid-values", "0", "2", "--out", str(tmp_path / "grid"), *TINY]) == 0
    grid = json.loads((tmp_path / "grid" / "grid_results.json").read_text())
    assert len(grid["points"]) == 2 and grid["total_seconds"] > 0
    best = grid["points"][grid["best_point"]]
    assert best["val_loss"] == min(p["val_loss"] for p in grid["points"])
    chosen = json.loads((tmp_path / "grid" / "transfer_ratios.json").read_text())
    assert chosen["freesolv"]["doubled"] == best["freesolv<->doubled"]
    # started again, a finished grid point is not retrained: same rows, weights untouched
    weights = tmp_path / "grid" / "grid" / "point000" / "weights.pt"
    stamp = weights.stat().st_mtime_ns
    assert main(["train", "--data", str(two_task_csv), "--method", "gate", "--transfer-ratios", "grid",
                 "--grid-values", "0", "2", "--out", str(tmp_path / "grid"), *TINY]) == 0
    assert json.loads((tmp_path / "grid" / "grid_results.json").read_text())["points"] == grid["points"]
    assert weights.stat().st_mtime_ns == stamp

    assert main(["train", "--data", str(two_task_csv), "--method", "gate", "--transfer-ratios", "learned",
                 "--ratio-interval", "1", "--hypergradient", "finite-difference",
                 "--ratio-parameterization", "sigmoid", "--outer-lr", "0.2", "--ratio-max", "3",
                 "--out", str(tmp_path / "learned"), *TINY]) == 0
    config = json.loads((tmp_path / "learned" / "config.json").read_text())
    assert config["transfer_ratios"]["mode"] == "learned"
    settings = config["transfer_ratios"]["settings"]
    assert settings["hypergradient"] == "finite-difference" and settings["parameterization"] == "sigmoid"
    assert settings["outer_lr"] == 0.2 and settings["interval"] == 1 and settings["max_ratio"] == 3.0
    assert (tmp_path / "learned" / "transfer_ratios_history.json").exists()

    assert main(["train", "--data", str(two_task_csv), "--method", "mtl", "--transfer-ratios", "learned",
                 "--out", str(tmp_path / "x"), *TINY]) == 2
    assert "applies to --method gate, not mtl" in capsys.readouterr().err
    assert main(["train", "--data", str(two_task_csv), "--method", "gate-pair", "--target", "freesolv",
                 "--source", "doubled", "--transfer-ratios", "learned", "--out", str(tmp_path / "p"), *TINY]) == 2
    assert "source to the target only" in capsys.readouterr().err
    assert main(["train", "--data", str(two_task_csv), "--method", "gate", "--transfer-ratios", "fixed",
                 "--out", str(tmp_path / "y"), *TINY]) == 2
    assert "needs --ratios-file" in capsys.readouterr().err


def test_load_keeps_the_transfer_ratio_mode_and_settings(tmp_path, two_task_csv):
    """A loaded GATE model refits as it was fitted: the learned mode with every ratio setting, or
    the fixed ratios; ``load`` used to drop them and refit with uniform ratios."""
    import json

    from molgate import api

    tiny = dict(method="gate", epochs=1, hidden_size=16, ffn_hidden_size=8, progress=False,
                gate=GateConfig(latent_size=8, lf_size=8, perturb_count=2))
    settings = RatioSettings("sigmoid", outer_lr=0.2, interval=1, hypergradient="finite-difference",
                             max_ratio=3.0, preconditioner="sgd", val_batches=2, val_fraction=0.4)
    api.train(two_task_csv, out=tmp_path / "learned", transfer_ratios="learned", ratio_settings=settings, **tiny)
    loaded = api.PropertyRegressor.load(tmp_path / "learned")
    assert loaded.transfer_ratios == "learned" and loaded.ratio_settings == settings

    ratios = {"freesolv": {"doubled": 0.25}, "doubled": {"freesolv": 2.0}}
    (tmp_path / "r.json").write_text(json.dumps(ratios))
    api.train(two_task_csv, out=tmp_path / "fixed", transfer_ratios="fixed", ratios_file=tmp_path / "r.json", **tiny)
    loaded = api.PropertyRegressor.load(tmp_path / "fixed")
    assert loaded.transfer_ratios == "fixed" and loaded.ratios == ratios
    assert api.PropertyRegressor.load(tmp_path / "fixed").ratio_settings == RatioSettings()


def test_max_ratio_must_be_positive():
    with pytest.raises(ValueError, match="max_ratio"):
        RatioSettings("sigmoid", max_ratio=0.0)

