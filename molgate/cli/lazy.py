"""The heavy modules behind the commands, imported when a command runs, not at start-up.

``molgate --help``, ``--version`` and usage errors answer in a fraction of a second because the
CLI imports neither at start-up: :mod:`molgate.api` pulls in torch, Chemprop and Lightning
(seconds), :mod:`molgate.data.suite` pandas and the ``chemicals`` tables (about a second).
"""

from __future__ import annotations

from types import ModuleType


def api() -> ModuleType:
    """:mod:`molgate.api`, for every command that trains, predicts or screens."""
    from molgate import api as module  # lazy: torch, Chemprop, Lightning slow `molgate --help`

    return module


def suite() -> ModuleType:
    """:mod:`molgate.data.suite`, for ``molgate data build`` and ``summary`` (no torch needed)."""
    from molgate.data import suite as module  # lazy: pandas and chemicals slow `molgate --help`

    return module
