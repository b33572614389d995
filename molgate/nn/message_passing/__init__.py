"""Chemprop's directed bond message passing in the forms molgate computes it.

* :mod:`~molgate.nn.message_passing.batched`: K encoders with stacked weights, one batched matmul
  per step (GATE's ``separate`` encoders);
* :mod:`~molgate.nn.message_passing.inference`: one encoder without autograd, fused kernels;
* :mod:`~molgate.nn.message_passing.deduplicated`: the same, once per distinct environment
  (screening and validation);
* :mod:`~molgate.nn.message_passing.training`: once per distinct environment, with autograd.

All share :mod:`~molgate.nn.message_passing.sums` (messages into atoms, atoms into molecules) and
compute Chemprop's :class:`~chemprop.nn.message_passing.BondMessagePassing` function;
:mod:`~molgate.nn.message_passing.environments` and
:mod:`~molgate.nn.message_passing.environment_cache` label the environments the last two use.
"""

from molgate.nn.message_passing.batched import BatchedBondMessagePassing
from molgate.nn.message_passing.deduplicated import bond_message_passing_deduplicated
from molgate.nn.message_passing.inference import bond_message_passing_inference, supports_fast_inference
from molgate.nn.message_passing.sums import aggregate, sum_into_atoms
from molgate.nn.message_passing.training import bond_message_passing_training, supports_deduplicated_training

__all__ = ["BatchedBondMessagePassing", "bond_message_passing_deduplicated",
           "bond_message_passing_inference", "bond_message_passing_training", "supports_fast_inference",
           "supports_deduplicated_training", "aggregate", "sum_into_atoms"]
