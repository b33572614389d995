"""Hydration free energy from FreeSolv (shipped as molgate package data, keyed by SMILES)."""
from __future__ import annotations

from importlib import resources

import pandas as pd


def hydration_free_energy(ctx=None) -> pd.DataFrame:
    """Records keyed by the FreeSolv SMILES (column `raw_smiles`), in kcal/mol."""
    with resources.files("molgate.data").joinpath("resources/freesolv.csv").open("r") as fh:
        df = pd.read_csv(fh)
    return pd.DataFrame({"raw_smiles": df["smiles"].astype(str), "task": "hydration_free_energy",
                         "value": df["freesolv"].astype(float), "source": "FreeSolv",
                         "kind": "measured"})


PRODUCERS = {"hydration_free_energy": hydration_free_energy}
