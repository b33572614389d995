"""A molecule set labelled once: every batch sliced from it trains exactly as chemprop's forward."""

import pickle

import numpy as np
import torch
from chemprop.data import BatchMolGraph
from chemprop.nn.message_passing import BondMessagePassing
from rdkit import Chem

import molgate.featurize.batching as batching
import molgate.nn.message_passing.environment_cache as cache
from molgate.featurize.batching import GraphDataset
from molgate.nn.message_passing.environment_cache import DatasetEnvironments, LabelledBatchMolGraph
from molgate.nn.message_passing.training import bond_message_passing_training, training_plan

SET = ["CCO", "CCCCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C", "[He]", "[Na+].[Cl-]", "CC(=O)[O-].[Na+]",
       "[NH4+]", "O=[N+]([O-])c1ccccc1", "F/C=C/F", "F/C=C\\F", "C[C@H](N)C(=O)O", "c1ccc2ccccc2c1",
       "C1CC2CCC1C2", "CC(C)(C)C", "c1ccncc1.Cl", "O", "CCCCCCCCCC", "OCC(O)CO"]


def _graphs(featurizer):
    return [featurizer(Chem.MolFromSmiles(s)) for s in SET]


def test_batches_of_a_labelled_set_equal_chemprop_forward_and_backward(featurizer, monkeypatch):
    calls = []
    real = cache.environments
    monkeypatch.setattr(cache, "environments", lambda b, d: calls.append(d) or real(b, d))
    torch.manual_seed(0)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 32, True, 3)
    params = list(mp.parameters())
    source = DatasetEnvironments(_graphs(featurizer))
    rng = np.random.default_rng(0)
    batches = [rng.permutation(len(SET))[:7] for _ in range(8)] + [np.array([6, 0, 6, 9])]
    for idx in batches:
        bmg = LabelledBatchMolGraph(source, idx)
        env = bmg.environments(3)
        # labels are exact within the batch: equal level-0 labels mean equal atom and bond rows
        src = bmg.edge_index[0]
        rows = torch.cat([bmg.V[src], bmg.E], 1)
        first = {}
        for b, label in enumerate(env.bond_labels[0].tolist()):
            assert torch.equal(rows[first.setdefault(label, b)], rows[b])
        got, expected = bond_message_passing_training(mp, bmg, training_plan(bmg, 3)), mp(bmg)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        w = torch.linspace(-1, 1, got.numel()).reshape(got.shape)
        for g, e in zip(torch.autograd.grad((got * w).sum(), params), torch.autograd.grad((expected * w).sum(), params)):
            torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)
    assert calls == [3]  # the set was labelled once, for every batch


def test_a_batch_without_bonds_and_an_unlabellable_set_use_the_batch_itself(featurizer, monkeypatch):
    source = DatasetEnvironments(_graphs(featurizer))
    assert LabelledBatchMolGraph(source, [4, 5, 17]).environments(3) is None  # C, He, O: no bonds
    monkeypatch.setattr(cache, "environments", lambda b, d: None)
    mp = BondMessagePassing(featurizer.atom_fdim, featurizer.bond_fdim, 16)
    bmg = LabelledBatchMolGraph(DatasetEnvironments(_graphs(featurizer)), [0, 1, 2])
    assert bmg.environments(3) is None
    torch.testing.assert_close(bond_message_passing_training(mp, bmg), mp(bmg), atol=1e-5, rtol=1e-5)


def test_the_dataset_collates_labelled_batches_except_in_loader_workers(featurizer, monkeypatch):
    data = GraphDataset(_graphs(featurizer), np.arange(len(SET), dtype=float))
    batch = data.collate([3, 1, 2])
    assert isinstance(batch.bmg, LabelledBatchMolGraph)
    assert batch.bmg.environment_source is data.collate([0]).bmg.environment_source  # one per set
    plain = BatchMolGraph([data.graphs[i] for i in (3, 1, 2)])
    assert torch.equal(batch.bmg.V, plain.V) and torch.equal(batch.bmg.edge_index, plain.edge_index)
    monkeypatch.setattr(batching, "get_worker_info", lambda: object())
    assert type(data.collate([3, 1, 2]).bmg) is BatchMolGraph


def test_a_copy_of_the_set_carries_no_labels(featurizer):
    source = DatasetEnvironments(_graphs(featurizer))
    source._global(3)
    assert source._by_depth and pickle.loads(pickle.dumps(source))._by_depth == {}
