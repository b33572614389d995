"""The inference-only message passing must compute chemprop's function, and be used only where safe."""

import pytest
import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.agg import MeanAggregation, NormAggregation, SumAggregation
from chemprop.nn.message_passing import AtomMessagePassing, BondMessagePassing
from rdkit import Chem

from molgate.nn.dmpnn import MoleculeEncoder
from molgate.nn.message_passing.deduplicated import bond_message_passing_deduplicated
from molgate.nn.message_passing.inference import bond_message_passing_inference, supports_fast_inference
from molgate.nn.message_passing.sums import aggregate

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C", "[Na+].[Cl-]", "OCC(N)C(=O)O", "C1CC1C#N",
          "F/C=C/F", "C[C@H](N)C(=O)O"]


@pytest.fixture(scope="module")
def bmg(featurizer):
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in SMILES])


@pytest.mark.parametrize("depth,bias", [(3, False), (1, True), (2, True), (5, False)])
def test_fast_message_passing_equals_chemprop(featurizer, bmg, depth, bias):
    torch.manual_seed(depth)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 48, bias, depth).eval()
    with torch.no_grad():
        expected = mp(bmg)
    got = bond_message_passing_inference(mp, bmg)
    assert got.shape == expected.shape == (bmg.V.shape[0], 48)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("agg", [MeanAggregation(), SumAggregation(), NormAggregation(norm=7.0)])
def test_fast_aggregation_equals_chemprop(bmg, agg):
    torch.manual_seed(0)
    H = torch.randn(bmg.V.shape[0], 16)
    torch.testing.assert_close(aggregate(agg, H, bmg.batch), agg(H, bmg.batch), atol=1e-6, rtol=1e-6)


def test_only_the_configuration_molgate_builds_is_accelerated(featurizer):
    d_v, d_e = featurizer.atom_fdim, featurizer.bond_fdim
    assert supports_fast_inference(BondMessagePassing(d_v, d_e))
    assert not supports_fast_inference(BondMessagePassing(d_v, d_e, undirected=True))
    assert not supports_fast_inference(BondMessagePassing(d_v, d_e, activation="tanh"))
    assert not supports_fast_inference(BondMessagePassing(d_v, d_e, d_vd=4))
    assert not supports_fast_inference(AtomMessagePassing(d_v, d_e))


def test_encoder_uses_fast_path_only_without_autograd(featurizer, bmg, monkeypatch):
    torch.manual_seed(0)
    enc = MoleculeEncoder(featurizer.atom_fdim, featurizer.bond_fdim, hidden_size=32, depth=3)
    calls = []
    import molgate.nn.dmpnn as dmpnn

    def spy(mp, b):
        calls.append(1)
        return bond_message_passing_deduplicated(mp, b)

    monkeypatch.setattr(dmpnn, "bond_message_passing_deduplicated", spy)
    enc.eval()
    reference = enc.aggregation(enc.message_passing(bmg), bmg.batch)  # chemprop's own forward
    assert reference.requires_grad
    with torch.no_grad():
        fast = enc(bmg)
    assert calls == [1]
    torch.testing.assert_close(fast, reference.detach(), atol=1e-5, rtol=1e-5)
    enc.train()  # training: autograd needs the differentiable path (molgate.nn.message_passing.training)
    with torch.no_grad():
        enc(bmg)
    assert calls == [1]
    out = enc.eval()(bmg)
    assert calls == [1] and out.requires_grad  # gradients still flow when they are asked for


def test_fast_path_in_bfloat16_stays_close(featurizer, bmg):
    torch.manual_seed(1)
    enc = MoleculeEncoder(featurizer.atom_fdim, featurizer.bond_fdim, hidden_size=64, depth=3).eval()
    with torch.no_grad():
        fp32 = enc(bmg)
        bmg16 = BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in SMILES])
        bmg16.V, bmg16.E = bmg16.V.bfloat16(), bmg16.E.bfloat16()
        bf16 = enc.to(torch.bfloat16)(bmg16).float()
    assert bf16.dtype == torch.float32
    assert (bf16 - fp32).abs().max() < 0.05 * fp32.abs().max()
