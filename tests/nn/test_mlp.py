"""Batched per-task MLPs must equal K separate MLPs, including one task's MLP on another's input."""

import pytest
import torch
from torch import nn

from molgate.nn.mlp import BatchedLinear, BatchedMLP


@pytest.mark.parametrize("n_layers", [0, 1, 2])
def test_batched_mlp_equals_separate_mlps_over_sample_dims(n_layers):
    torch.manual_seed(0)
    mlp = BatchedMLP(4, d_in=6, d_hidden=10, d_out=3, n_layers=n_layers, activation="tanh")
    x = torch.randn(4, 2, 5, 6)  # [K, perturbation, molecule, d]

    out = mlp(x)

    assert out.shape == (4, 2, 5, 3)
    assert sum(isinstance(m, nn.Linear) for m in mlp.unbatched(0)) == n_layers + 1
    for k in range(4):
        torch.testing.assert_close(out[k], mlp.unbatched(k)(x[k]), atol=1e-6, rtol=0)


def test_index_applies_chosen_task_modules_to_other_tensors():
    torch.manual_seed(1)
    mlp = BatchedMLP(5, 4, 8, 2, n_layers=1)
    x = torch.randn(2, 7, 4)

    out = mlp(x, index=torch.tensor([3, 1]))

    torch.testing.assert_close(out[0], mlp.unbatched(3)(x[0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1], mlp.unbatched(1)(x[1]), atol=1e-6, rtol=0)


def test_stack_of_unbatched_round_trips():
    torch.manual_seed(2)
    mlp = BatchedMLP(3, 4, 8, 2, n_layers=2)
    restacked = BatchedMLP.stack([mlp.unbatched(k) for k in range(3)])
    x = torch.randn(3, 9, 4)
    torch.testing.assert_close(restacked(x), mlp(x))


def test_batched_linear_checks_leading_axis():
    with pytest.raises(ValueError, match="leading axis"):
        BatchedLinear(3, 4, 2)(torch.zeros(2, 5, 4))


def test_gradient_of_one_task_output_reaches_only_that_task():
    torch.manual_seed(3)
    mlp = BatchedMLP(3, 4, 8, 2, n_layers=1)
    mlp(torch.randn(3, 5, 4))[2].sum().backward()
    for layer in mlp.layers:
        assert layer.weight.grad[2].abs().sum() > 0
        assert torch.all(layer.weight.grad[:2] == 0)
