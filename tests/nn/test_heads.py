import numpy as np
import torch

from molgate.nn.heads import TaskHeads
from molgate.nn.transforms import TargetScaler


def test_task_heads_equal_independent_mlps():
    torch.manual_seed(0)
    heads = TaskHeads(n_tasks=3, d_in=8, hidden_size=5, n_layers=1)
    x = torch.randn(4, 8)
    out = heads(x)
    assert out.shape == (4, 3)
    for k in range(3):
        torch.testing.assert_close(out[:, k], heads.unbatched(k)(x).squeeze(-1))
    per_task = torch.randn(3, 4, 8)
    torch.testing.assert_close(heads(per_task)[:, 1], heads.unbatched(1)(per_task[1]).squeeze(-1))


def test_target_scaler_ignores_missing_and_inverts():
    y = np.array([[1.0, np.nan], [3.0, 5.0], [5.0, np.nan]])
    s = TargetScaler(2).fit(y)
    torch.testing.assert_close(s.mean, torch.tensor([3.0, 5.0]))
    assert s.std[1] == 1.0  # a single label: std 0 is replaced by 1, no division by zero
    z = torch.tensor([[1.0, 5.0]])
    torch.testing.assert_close(s.inverse(s.transform(z)), z)
