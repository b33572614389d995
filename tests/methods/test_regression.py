import torch

from molgate.methods.regression import regression_loss


def masked_mse(pred, y, mask):
    return regression_loss(pred, y, mask, "pooled")


def test_missing_labels_contribute_no_loss_and_no_gradient():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    mask = torch.tensor([[True, False], [True, True]])
    y1 = torch.tensor([[0.0, 100.0], [3.0, 2.0]])
    y2 = torch.tensor([[0.0, -7.0], [3.0, 2.0]])  # differs only where the label is missing
    loss = masked_mse(pred, y1, mask)
    assert abs(loss.item() - 5.0 / 3) < 1e-6
    assert masked_mse(pred, y2, mask).item() == loss.item()
    loss.backward()
    assert pred.grad[0, 1] == 0.0 and pred.grad[0, 0] != 0.0


def test_nan_labels_under_the_mask_do_not_leak():
    pred = torch.zeros(2, 1, requires_grad=True)
    y = torch.tensor([[float("nan")], [1.0]])
    loss = masked_mse(pred, y, ~torch.isnan(y))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()


def test_all_missing_gives_zero():
    assert masked_mse(torch.ones(3, 2), torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.bool)) == 0
