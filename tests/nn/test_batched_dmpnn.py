"""The batched K-encoder D-MPNN must reproduce K independent chemprop encoders exactly."""

import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.agg import MeanAggregation
from chemprop.nn.message_passing import BondMessagePassing
from rdkit import Chem

from molgate.nn.message_passing.batched import BatchedBondMessagePassing
from molgate.nn.message_passing.sums import aggregate

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C", "OCC(N)C(=O)O", "ClC(Cl)Cl", "C1CC1C#N",
          "CCCCCCCC"]


@pytest.fixture(scope="module")
def bmg(featurizer):
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in SMILES])


def _chemprop_encoders(featurizer, K, d_h=32, depth=3, bias=False, seed=0):
    torch.manual_seed(seed)
    return [BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, d_h, bias, depth) for _ in range(K)]


@pytest.mark.parametrize("depth,bias", [(3, False), (1, True), (4, True)])
def test_separate_encoders_match_independent_chemprop_encoders(featurizer, bmg, depth, bias):
    encoders = _chemprop_encoders(featurizer, K=3, depth=depth, bias=bias)
    batched = BatchedBondMessagePassing.from_chemprop(encoders)
    agg = MeanAggregation()

    atoms = batched(bmg)
    mols = batched.encode(bmg)

    assert atoms.shape == (3, bmg.V.shape[0], 32)
    assert mols.shape == (3, len(SMILES), 32)
    for k, mp in enumerate(encoders):
        H = mp(bmg)
        torch.testing.assert_close(atoms[k], H, atol=1e-5, rtol=0)
        torch.testing.assert_close(mols[k], agg(H, bmg.batch), atol=1e-5, rtol=0)


def test_shared_input_matches_chemprop_encoders_with_equal_input_projection(featurizer, bmg):
    encoders = _chemprop_encoders(featurizer, K=3)
    for mp in encoders[1:]:
        mp.W_i.load_state_dict(encoders[0].W_i.state_dict())
    batched = BatchedBondMessagePassing.from_chemprop(encoders, shared_input=True)

    assert batched.initial(bmg).shape == (bmg.E.shape[0], 32)  # one h0 for every encoder
    mols = batched.encode(bmg)
    for k, mp in enumerate(encoders):
        torch.testing.assert_close(mols[k], MeanAggregation()(mp(bmg), bmg.batch), atol=1e-5, rtol=0)


def test_shared_input_refuses_different_input_projections(featurizer):
    with pytest.raises(ValueError, match="identical W_i"):
        BatchedBondMessagePassing.from_chemprop(_chemprop_encoders(featurizer, K=2), shared_input=True)


def test_sample_dims_of_h0_are_independent_inputs(featurizer, bmg):
    """Clean + perturbed h0 in one call equal separate calls: this is how perturbations are run."""
    torch.manual_seed(1)
    batched = BatchedBondMessagePassing(4, featurizer.atom_fdim, featurizer.bond_fdim, 16, shared_input=True)
    h0 = batched.initial(bmg)
    perturbed = h0 + 0.1 * torch.randn_like(h0)

    together = batched.encode(bmg, torch.stack([h0, perturbed]))

    assert together.shape == (4, 2, len(SMILES), 16)
    torch.testing.assert_close(together[:, 0], batched.encode(bmg), atol=1e-6, rtol=0)
    torch.testing.assert_close(together[:, 1], batched.encode(bmg, perturbed), atol=1e-6, rtol=0)


def test_each_encoder_gets_gradient_only_from_its_own_output(featurizer, bmg):
    torch.manual_seed(2)
    batched = BatchedBondMessagePassing(3, featurizer.atom_fdim, featurizer.bond_fdim, 16)
    batched.encode(bmg)[1].pow(2).sum().backward()

    for grad in (batched.W_i_weight.grad, batched.W_h_weight.grad, batched.W_o_weight.grad):
        assert grad[1].abs().sum() > 0
        assert torch.all(grad[0] == 0) and torch.all(grad[2] == 0)


def test_per_encoder_h0_must_have_K_leading(featurizer, bmg):
    batched = BatchedBondMessagePassing(3, featurizer.atom_fdim, featurizer.bond_fdim, 16)
    with pytest.raises(ValueError, match="K=3"):
        batched(bmg, torch.zeros(bmg.E.shape[0], 16))


def test_mean_aggregate_matches_chemprop_with_leading_dims():
    torch.manual_seed(3)
    batch = torch.tensor([0, 0, 1, 2, 2, 2])
    H = torch.randn(2, 3, 6, 5)
    out = aggregate(MeanAggregation(), H, batch, 3)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(out[i, j], MeanAggregation()(H[i, j], batch))


# suite-like and odd molecules: single atoms, ions, zwitterions, stereo, bridged rings, salts
ODD = ["CCO", "CCCCO", "c1ccccc1O", "C", "[He]", "[Na+].[Cl-]", "CC(=O)[O-].[Na+]", "C[N+](C)(C)C",
       "O=[N+]([O-])c1ccccc1", "F/C=C/F", "F/C=C\\F", "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "C1CC2CCC1C2",
       "c1ccncc1.Cl", "O", "CCO"]


def _grads(out, params):
    w = torch.linspace(-1, 2, out.numel()).reshape(out.shape)  # no gradient can cancel by symmetry
    grads = torch.autograd.grad((out * w).sum() + out.square().mean(), params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


@pytest.mark.parametrize("shared_input,depth,bias", [(True, 3, False), (True, 1, True), (True, 5, True),
                                                     (False, 2, False), (False, 3, True)])
def test_deduplicated_forward_and_gradients_equal_the_plain_forward(featurizer, shared_input, depth, bias):
    bmg = BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in ODD * 2])
    torch.manual_seed(depth)
    batched = BatchedBondMessagePassing(3, featurizer.atom_fdim, featurizer.bond_fdim, 24, depth,
                                        bias=bias, shared_input=shared_input).train()
    params = list(batched.parameters())
    assert batched._plan(bmg) is not None  # the deduplicated path is the one under test
    got = batched.encode(bmg)
    batched.deduplicate_training = False
    assert batched._plan(bmg) is None
    expected = batched.encode(bmg)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    for g, e in zip(_grads(got, params), _grads(expected, params)):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


def test_deduplication_steps_aside_for_dropout_and_each_odd_molecule_alone_matches(featurizer, monkeypatch):
    torch.manual_seed(0)
    batched = BatchedBondMessagePassing(2, featurizer.atom_fdim, featurizer.bond_fdim, 16, bias=True,
                                        shared_input=True)
    for smiles in ["[He]", "C", "[Na+].[Cl-]", "F/C=C/F", "C1CC1"]:
        one = BatchMolGraph([featurizer(Chem.MolFromSmiles(smiles))])
        got = batched.encode(one)
        torch.testing.assert_close(got, batched.encode(one, batched.initial(one)), atol=1e-6, rtol=1e-5, msg=smiles)
    monkeypatch.setenv("MOLGATE_DEDUP_TRAINING", "0")
    assert batched._plan(one) is None
    monkeypatch.delenv("MOLGATE_DEDUP_TRAINING")
    noisy = BatchedBondMessagePassing(2, featurizer.atom_fdim, featurizer.bond_fdim, 16, dropout=0.1).train()
    assert noisy._plan(one) is None and noisy.eval()._plan(one) is not None
