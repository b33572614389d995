"""Frozen sources weighted by relatedness: ratios that average 1 and follow |corr| with the new labels."""

import numpy as np
import pytest
import torch

from molgate.featurize.batching import GraphDataset, make_loader
from molgate.featurize.graphs import FeaturizerSettings, feature_dims, featurize
from molgate.methods import EncoderConfig, GATEModel, GateConfig
from molgate.methods.gate_losses import consistency_loss
from molgate.methods.source_weights import correlation_ratios, source_ratios, source_relatedness
from molgate.methods.frozen_context import frozen_context
from molgate.methods.task_addition import TaskAdditionModel, new_task_part

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "ClC(Cl)Cl", "CCCCCC", "OCCO", "c1ccncc1", "CC(C)O", "CCCl"]


@pytest.fixture(scope="module")
def setting():
    d_v, d_e = feature_dims(FeaturizerSettings())
    torch.manual_seed(0)
    frozen = GATEModel(3, d_v, d_e, EncoderConfig(hidden_size=16, ffn_hidden_size=16),
                       GateConfig(latent_size=8, lf_size=8, perturb_count=2)).eval()
    graphs = featurize(SMILES, cache=False, progress=False)
    with torch.no_grad():
        preds = frozen(next(iter(make_loader(GraphDataset(graphs), len(graphs)))).bmg).numpy()
    return frozen, graphs, preds


def test_correlation_ratios_average_one_and_follow_the_relatedness():
    ratios = correlation_ratios(torch.tensor([0.1, 0.3, 0.2]))
    torch.testing.assert_close(ratios, torch.tensor([0.5, 1.5, 1.0]))
    assert torch.equal(correlation_ratios(torch.zeros(4)), torch.ones(4))


def test_a_source_whose_prediction_is_the_new_label_is_the_most_related(setting):
    frozen, graphs, preds = setting
    y = 3.0 * preds[:, 1] - 2.0  # task 1's prediction, in other units
    y[::4] = np.nan  # unlabelled molecules are left out
    r = source_relatedness(frozen, graphs, y)
    assert r.shape == (3,) and float(r[1]) == pytest.approx(1.0, abs=1e-5)
    assert bool((r[[0, 2]] < 1.0 - 1e-4).all()) and bool((r >= 0).all())
    flipped = source_relatedness(frozen, graphs, -y)  # anti-correlated counts as related
    torch.testing.assert_close(flipped, r)
    signed = source_relatedness(frozen, graphs, -y, absolute=False)  # the sign, for init_encoder="related"
    torch.testing.assert_close(signed.abs(), r)
    assert float(signed[1]) == pytest.approx(-1.0, abs=1e-5)
    ratios = source_ratios("correlation", frozen, graphs, y)
    assert float(ratios.mean()) == pytest.approx(1.0) and int(ratios.argmax()) == 1
    assert source_ratios("uniform", frozen, graphs, y) is None
    with pytest.raises(ValueError, match="source weights"):
        source_ratios("learned", frozen, graphs, y)


def test_the_ratios_weight_the_consistency_term(setting):
    frozen, graphs, preds = setting
    weights = torch.tensor([0.5, 2.0, 0.5])
    new = new_task_part(frozen)
    y = preds[:, :1].copy()
    context = frozen_context(frozen, new, graphs, seed=0)
    batch = next(iter(make_loader(GraphDataset(graphs, y, context.values), len(graphs))))
    view = TaskAdditionModel(frozen, new, context.kind, source_ratios=weights)
    assert torch.equal(view.transfer_ratios[:3, 3], weights)
    terms, _ = view.loss_terms(batch)
    with torch.no_grad():
        u_old = frozen.lf_points(batch.bmg)[1]
        u_new = new.lf_points(batch.bmg)[1]
    expected = consistency_loss(torch.cat([u_old, u_new]), view.transfer_ratios)
    torch.testing.assert_close(terms["cons"].detach(), expected, rtol=1e-5, atol=1e-7)
