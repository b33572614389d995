import numpy as np
import torch
from torch import nn

from molgate.nn.heads import StackedLinear, TargetScaler, TaskHeads


def test_task_heads_equal_independent_mlps():
    torch.manual_seed(0)
    heads = TaskHeads(n_tasks=3, d_in=8, hidden_size=5, n_layers=1)
    x = torch.randn(4, 8)
    out = heads(x)
    assert out.shape == (4, 3)
    for k in range(3):
        l1, l2 = nn.Linear(8, 5), nn.Linear(5, 1)
        with torch.no_grad():
            l1.weight.copy_(heads.layers[0].weight[k].T)
            l1.bias.copy_(heads.layers[0].bias[k, 0])
            l2.weight.copy_(heads.layers[1].weight[k].T)
            l2.bias.copy_(heads.layers[1].bias[k, 0])
        torch.testing.assert_close(out[:, k], l2(torch.relu(l1(x))).squeeze(-1))


def test_stacked_linear_takes_per_task_inputs():
    layer = StackedLinear(2, 3, 4)
    x = torch.randn(2, 5, 3)
    out = layer(x)
    torch.testing.assert_close(out[1], x[1] @ layer.weight[1] + layer.bias[1])


def test_target_scaler_ignores_missing_and_inverts():
    y = np.array([[1.0, np.nan], [3.0, 5.0], [5.0, np.nan]])
    s = TargetScaler(2).fit(y)
    torch.testing.assert_close(s.mean, torch.tensor([3.0, 5.0]))
    assert s.std[1] == 1.0  # a single label: std 0 is replaced by 1, no division by zero
    z = torch.tensor([[1.0, 5.0]])
    torch.testing.assert_close(s.inverse(s.transform(z)), z)
