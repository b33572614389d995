r"""Which frozen sources a new task should align to most (task addition, **[ours]**).

Uniform transfer ratios ask the new task n to agree with every frozen task a alike. With
``"correlation"`` each source's ratio follows how related its property is to the new one on the
new task's own training molecules:

.. math::

    r_a = \left| \mathrm{corr}_{b \in L_n}\!\left(\hat y_a(x_b),\, y_{bn}\right) \right|, \qquad
    \lambda[a, n] = K \frac{r_a}{\sum_{a'} r_{a'}}

with :math:`\hat y_a` the frozen model's prediction of task a and :math:`L_n` the labelled
training molecules. The ratios average 1, so the pair terms keep their total weight and only
their split over the sources changes; a source unrelated to the new property gets almost none.
Computed once, before training, from the frozen model: no validation data are used.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from molgate.featurize.batching import GraphDataset, make_loader

SOURCE_WEIGHTS = ("uniform", "correlation")


@torch.no_grad()
def source_relatedness(frozen, graphs, y: np.ndarray, batch_size: int = 256, absolute: bool = True) -> Tensor:
    """``r [K]``: |Pearson r| (``absolute=False``: signed) between each frozen task's prediction and
    the new labels ``y [N]`` (NaN = unlabelled) over ``graphs``; 0 where either side has no spread."""
    frozen.eval()
    preds = torch.cat([frozen(b.bmg) for b in make_loader(GraphDataset(graphs), batch_size)])  # [N, K]
    y = torch.as_tensor(np.asarray(y, dtype=np.float64).reshape(-1))
    keep = ~torch.isnan(y)
    p, t = preds.double()[keep], y[keep]
    if len(t) < 2:
        return torch.zeros(preds.shape[1])
    p, t = p - p.mean(dim=0), t - t.mean()
    denominator = p.norm(dim=0) * t.norm()
    r = torch.where(denominator > 0, (p * t.unsqueeze(1)).sum(dim=0) / denominator.clamp_min(1e-300), 0.0)
    return (r.abs() if absolute else r).float()


def correlation_ratios(relatedness: Tensor) -> Tensor:
    """``lambda[:, n] [K]`` from the relatedness ``r``: ``K r / sum(r)``, uniform (all 1) if every
    r is 0."""
    total = relatedness.sum()
    if not total > 0:
        return torch.ones_like(relatedness)
    return len(relatedness) * relatedness / total


def source_ratios(kind: str, frozen, graphs, y: np.ndarray) -> Tensor | None:
    """The ratios frozen -> new for ``kind`` (None: uniform, the model's default)."""
    if kind not in SOURCE_WEIGHTS:
        raise ValueError(f"source weights must be one of {SOURCE_WEIGHTS}, got {kind!r}")
    if kind == "uniform":
        return None
    return correlation_ratios(source_relatedness(frozen, graphs, y))


__all__ = ["SOURCE_WEIGHTS", "correlation_ratios", "source_ratios", "source_relatedness"]
