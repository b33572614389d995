"""Training message passing computed once per environment: chemprop's function, forward and backward."""

import numpy as np
import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.agg import MeanAggregation, NormAggregation, SumAggregation
from chemprop.nn.message_passing import BondMessagePassing
from rdkit import Chem

import molgate.nn.dmpnn as dmpnn
import molgate.nn.message_passing.training as tmp
from molgate.nn.dmpnn import MoleculeEncoder
from molgate.nn.message_passing.sums import aggregate
from molgate.nn.message_passing.training import (bond_message_passing_training, supports_deduplicated_training,
                                                 training_plan)

# suite-like molecules (repeated building blocks) and odd ones: single atoms, charged atoms and
# zwitterions, stereo (E/Z, R/S), fused and bridged rings, disconnected fragments (salts)
SMILES = ["CCO", "CCCCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C", "[He]", "[Na+].[Cl-]",
          "CC(=O)[O-].[Na+]", "[NH4+]", "C[N+](C)(C)C", "O=[N+]([O-])c1ccccc1", "F/C=C/F", "F/C=C\\F",
          "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "c1ccc2ccccc2c1", "C1CC2CCC1C2", "C1CC1C#N",
          "CC(C)(C)C", "OC(=O)CC(O)(CC(=O)O)C(=O)O", "CCCCCCCCCCCC", "c1ccncc1.Cl", "O", "CCO"]


def _batch(featurizer, smiles):
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in smiles])


def _loss_and_grads(out, params):
    # a loss that weights every atom and channel differently, so no gradient can cancel by symmetry
    w = torch.linspace(-1, 2, out.numel()).reshape(out.shape)
    loss = (out * w).sum() + out.square().mean()
    grads = torch.autograd.grad(loss, params, allow_unused=True)  # depth 1 never uses W_h
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


@pytest.mark.parametrize("depth,bias", [(1, False), (2, True), (3, False), (3, True), (5, False)])
def test_forward_and_parameter_gradients_equal_chemprop(featurizer, depth, bias):
    torch.manual_seed(depth)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 48, bias, depth).train()
    bmg = _batch(featurizer, SMILES * 2)
    params = list(mp.parameters())
    expected = mp(bmg)
    got = bond_message_passing_training(mp, bmg)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    for g, e in zip(_loss_and_grads(got, params), _loss_and_grads(expected, params)):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)
    # the work really is deduplicated: fewer level-0 rows than directed bonds
    plan = training_plan(bmg, depth)
    assert len(plan.bond0) < bmg.E.shape[0] and len(plan.atom_rep) < bmg.V.shape[0]


@pytest.mark.parametrize("agg", [MeanAggregation(), SumAggregation(), NormAggregation()])
def test_aggregation_and_its_gradient_equal_chemprop(featurizer, agg):
    bmg = _batch(featurizer, SMILES)
    H = torch.randn(bmg.V.shape[0], 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    got, expected = aggregate(agg, H, bmg.batch), agg(H, bmg.batch)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(_loss_and_grads(got, [H])[0], _loss_and_grads(expected, [H])[0])


def test_each_odd_molecule_alone_equals_chemprop(featurizer):
    """One molecule per batch: a lone atom (no bonds: chemprop's path), an ion pair, stereo."""
    torch.manual_seed(0)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 16, True, 3)
    params = list(mp.parameters())
    for smiles in ["[He]", "C", "[Na+].[Cl-]", "CC(=O)[O-].[Na+]", "F/C=C/F", "C[C@H](N)C(=O)O", "C1CC1"]:
        bmg = _batch(featurizer, [smiles])
        got, expected = bond_message_passing_training(mp, bmg), mp(bmg)
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5, msg=smiles)
        for g, e in zip(_loss_and_grads(got, params), _loss_and_grads(expected, params)):
            torch.testing.assert_close(g, e, atol=1e-6, rtol=1e-5, msg=smiles)


def test_feature_gradients(featurizer):
    """Feature rows that require gradients take chemprop's path (their per-row gradient is not
    a function of the labels); the deduplicated path itself gives each label's summed gradient."""
    torch.manual_seed(0)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 24, False, 3)
    bmg = _batch(featurizer, SMILES)
    plan = training_plan(bmg, 3)
    V, E = bmg.V.clone().requires_grad_(), bmg.E.clone().requires_grad_()
    bmg.V, bmg.E = V, E
    expected = _loss_and_grads(mp(bmg), [V, E])
    got = _loss_and_grads(bond_message_passing_training(mp, bmg), [V, E])  # falls back: exact rows
    torch.testing.assert_close(got[0], expected[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got[1], expected[1], atol=1e-6, rtol=1e-5)
    # through the plan, every gradient lands on the representative rows; summed over the bonds
    # of one level-0 label it is chemprop's
    dedup_E = _loss_and_grads(bond_message_passing_training(mp, bmg, plan), [E])[0]
    labels = tmp.environments(bmg, 3).bond_labels[0]
    n = int(labels.max()) + 1
    per_label = lambda G: G.new_zeros(n, G.shape[1]).index_add_(0, labels, G)  # noqa: E731
    torch.testing.assert_close(per_label(dedup_E), per_label(expected[1]), atol=1e-5, rtol=1e-4)


def test_plan_is_reused_for_the_same_batch_only(featurizer, monkeypatch):
    calls = []
    real = tmp._training_plan
    monkeypatch.setattr(tmp, "_training_plan", lambda b, d: calls.append(d) or real(b, d))
    a, b = _batch(featurizer, SMILES[:5]), _batch(featurizer, SMILES[:5])
    assert training_plan(a, 3) is training_plan(a, 3)
    training_plan(b, 3)  # equal content, another batch: labelled again
    training_plan(b, 2)
    b.V = b.V.clone()  # a replaced tensor is another batch
    training_plan(b, 2)
    assert calls == [3, 3, 2, 2]


def test_dropout_or_other_configurations_use_chemprop(featurizer):
    d_v, d_e = featurizer.atom_fdim, featurizer.bond_fdim
    assert supports_deduplicated_training(BondMessagePassing(d_v, d_e).train())
    assert not supports_deduplicated_training(BondMessagePassing(d_v, d_e, dropout=0.1).train())
    assert supports_deduplicated_training(BondMessagePassing(d_v, d_e, dropout=0.1).eval())
    assert not supports_deduplicated_training(BondMessagePassing(d_v, d_e, activation="tanh"))
    assert not supports_deduplicated_training(BondMessagePassing(d_v, d_e, undirected=True))


def test_encoder_trains_through_the_deduplicated_path_unless_switched_off(featurizer, monkeypatch):
    torch.manual_seed(0)
    enc = MoleculeEncoder(featurizer.atom_fdim, featurizer.bond_fdim, hidden_size=32).train()
    bmg = _batch(featurizer, SMILES)
    calls = []
    monkeypatch.setattr(dmpnn, "bond_message_passing_training",
                        lambda mp, b: calls.append(1) or bond_message_passing_training(mp, b))
    params = list(enc.parameters())
    fast = enc(bmg)
    assert calls == [1]
    monkeypatch.setenv("MOLGATE_DEDUP_TRAINING", "0")
    slow = enc(bmg)
    assert calls == [1]
    monkeypatch.delenv("MOLGATE_DEDUP_TRAINING")
    enc.deduplicate_training = False  # the attribute wins over the environment
    enc(bmg)
    assert calls == [1]
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    for g, e in zip(_loss_and_grads(fast, params), _loss_and_grads(slow, params)):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


def _fit(freesolv, tmp_path, method, name):
    from molgate.featurize.batching import GraphDataset
    from molgate.methods.base import EncoderConfig
    from molgate.methods.gate import GATEModel
    from molgate.methods.mtl import MTLModel
    from molgate.train.fit import fit_model
    from molgate.train.module import TrainSettings
    from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer

    f = SimpleMoleculeMolGraphFeaturizer()
    graphs = [f(Chem.MolFromSmiles(s)) for s in freesolv.smiles[:96]]
    y = freesolv.iloc[:96, 1].to_numpy(dtype=np.float32)
    y = np.stack([(y - y.mean()) / y.std(), np.where(np.arange(96) % 3, -y / y.std(), np.nan)], 1)
    config = EncoderConfig(hidden_size=32, ffn_hidden_size=32)
    torch.manual_seed(0)
    model = MTLModel(2, f.atom_fdim, f.bond_fdim, config) if method == "mtl" else \
        GATEModel(2, f.atom_fdim, f.bond_fdim, config)
    settings = TrainSettings(epochs=3, batch_size=16, patience=5, progress=False, seed=0)
    result = fit_model(model, GraphDataset(graphs[:72], y[:72]), GraphDataset(graphs[72:], y[72:]),
                       tmp_path / name, settings)
    return result, torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("method", ["mtl", "gate"])
def test_seeded_training_gives_the_same_metrics_with_the_fast_path_on_and_off(freesolv, tmp_path,
                                                                                monkeypatch, method):
    calls = []
    monkeypatch.setattr(dmpnn, "bond_message_passing_training",
                        lambda mp, b: calls.append(1) or bond_message_passing_training(mp, b))
    on, weights_on = _fit(freesolv, tmp_path, method, "on")
    n_on = len(calls)
    assert n_on >= 15  # every training step (3 epochs of 5 batches) took it, and any diagnostics
    monkeypatch.setenv("MOLGATE_DEDUP_TRAINING", "0")
    off, weights_off = _fit(freesolv, tmp_path, method, "off")
    assert len(calls) == n_on
    assert on.epochs_run == off.epochs_run == 3
    np.testing.assert_allclose(on.val_history, off.val_history, rtol=1e-4, atol=1e-6)
    # Adam divides by the gradient's running scale, so a parameter whose gradient is float noise
    # (~1e-9) can take a different step of up to the learning rate; all others agree closely
    far = (weights_on - weights_off).abs() > 1e-4
    assert far.float().mean() < 1e-4
    torch.testing.assert_close(weights_on, weights_off, atol=3e-3, rtol=0)
