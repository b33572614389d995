r"""Per-term diagnostics: does each term of the loss move the gradient?

A loss term that is numerically small, or whose gradient is small next to the regression's, does
nothing, whatever its weight is called. Once per epoch, on the epoch's first training batch, this
logs for every active term n (weight w_n) and every parameter group g of the model
(:meth:`~molgate.methods.base.PropertyModel.parameter_groups`):

.. math::

    \text{value}_n = l_n, \qquad
    \text{grad}_{n,g} = \lVert \nabla_{\theta_g} (w_n l_n) \rVert_2, \qquad
    \text{share}_n = \frac{\text{grad}_{n,\text{encoders}}}{\text{grad}_{\text{reg},\text{encoders}}}

into ``logs/metrics.csv`` as ``diag_<n>_value``, ``diag_<n>_grad_<g>`` and ``diag_<n>_share``
(the share uses the ``encoders`` group, else the first group). It costs one backward pass per
term (all groups at once) on one batch per epoch.
"""

from __future__ import annotations

import lightning as L
import torch

from molgate.methods.base import PropertyModel


def term_gradient_norms(model: PropertyModel, batch) -> dict[str, float]:
    """``{"<term>_value", "<term>_grad_<group>", "<term>_share"}`` for one batch (module docstring)."""
    groups = {name: [p for p in params if p.requires_grad] for name, params in model.parameter_groups().items()}
    groups = {name: params for name, params in groups.items() if params}
    if not groups:
        return {}
    share_group = "encoders" if "encoders" in groups else next(iter(groups))
    with torch.enable_grad():
        terms, weights = model.loss_terms(batch)
        out: dict[str, float] = {}
        names = list(terms)
        for i, name in enumerate(names):
            value = terms[name]
            out[f"{name}_value"] = float(value.detach())
            weighted = weights.get(name, 1.0) * value
            # one backward pass per term over every group's parameters; norms per group after
            flat = [p for params in groups.values() for p in params]
            grads = (torch.autograd.grad(weighted, flat, retain_graph=True, allow_unused=True)
                     if weighted.requires_grad else [None] * len(flat))
            start = 0
            for group, params in groups.items():
                mine = [g for g in grads[start:start + len(params)] if g is not None]
                start += len(params)
                out[f"{name}_grad_{group}"] = float(torch.sqrt(sum((g.detach() ** 2).sum() for g in mine))) \
                    if mine else 0.0
    reg = out.get(f"reg_grad_{share_group}", 0.0)
    for name in names:
        out[f"{name}_share"] = out[f"{name}_grad_{share_group}"] / reg if reg > 0 else float("nan")
    return out


class TermDiagnostics(L.Callback):
    """Logs :func:`term_gradient_norms` on the first training batch of every epoch."""

    def __init__(self):
        self._batch = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            self._batch = batch

    def on_train_epoch_end(self, trainer, pl_module):
        if self._batch is None:
            return
        model = pl_module.model
        values = term_gradient_norms(model, self._batch)
        self._batch = None
        if values:
            pl_module.log_dict({f"diag_{k}": v for k, v in values.items()}, on_step=False, on_epoch=True,
                               batch_size=1)


__all__ = ["term_gradient_norms", "TermDiagnostics"]
