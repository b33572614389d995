"""Shared tiny data: small, deterministic, fast."""

from __future__ import annotations

import logging
from importlib import resources

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own graph cache, so tests never see a user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MOLGATE_CACHE_DIR", str(tmp_path_factory.mktemp("graph-cache")))
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def freesolv() -> pd.DataFrame:
    with resources.files("molgate.data").joinpath("resources/freesolv.csv").open() as fh:
        return pd.read_csv(fh)


@pytest.fixture(scope="session")
def two_task_frame(freesolv) -> pd.DataFrame:
    """120 molecules, two tasks; the second (a linear function of the first) is half missing."""
    df = freesolv.iloc[:120].copy().reset_index(drop=True)
    rng = np.random.default_rng(0)
    df["doubled"] = np.where(rng.random(len(df)) < 0.5, 2 * df["freesolv"] + 1, np.nan)
    return df


@pytest.fixture(scope="session")
def two_task_csv(tmp_path_factory, two_task_frame):
    """The two-task frame as a CSV file, written once and only read by tests."""
    path = tmp_path_factory.mktemp("data") / "two.csv"
    two_task_frame.to_csv(path, index=False)
    return path


SMALL = dict(hidden_size=32, ffn_hidden_size=32, epochs=2, batch_size=32, progress=False)


@pytest.fixture(scope="module")
def tiny_two_task_model(tmp_path_factory, two_task_csv):
    """A one-epoch MTL on the two-task file (random split): for tests of what reads a model."""
    from molgate import api

    out = tmp_path_factory.mktemp("tiny_model") / "m"
    api.train(two_task_csv, targets=["freesolv", "doubled"], out=out, split="random",
              hidden_size=16, ffn_hidden_size=16, epochs=1, batch_size=32, progress=False)
    return out
