"""Parachor: ChemSep's tabulated values, plus MW * sigma^0.25 / rho derived from this suite's
own surface tension and liquid density at 298.15 K where ChemSep has no value."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem import Descriptors

from .records import frame
from .tables import chemicals_folder, note_file

CHEMSEP_FILE = "ChemSep8.32.xml"
# ChemSep stores kg^0.25 m^3 s^-0.5 kmol^-1 = 1e-3 (N/m)^0.25 m^3/mol.
CHEMSEP_TO_CGS = 1e-3 * 1000.0 ** 0.25 * 1e6  # -> (mN/m)^0.25 cm^3/mol
INPUTS = ("surface_tension_298", "liquid_density_298", "density")


def chemsep_values() -> pd.Series:
    """Parachor by CAS from the ChemSep XML databank shipped in chemicals (no loader exists)."""
    path = os.path.join(chemicals_folder("miscdata"), CHEMSEP_FILE)
    note_file(CHEMSEP_FILE)
    out = {}
    for compound in ET.parse(path).getroot().iter("compound"):
        cas, par = compound.find("CAS"), compound.find("Parachor")
        if cas is not None and par is not None:
            out[cas.get("value")] = float(par.get("value")) * CHEMSEP_TO_CGS
    return pd.Series(out, dtype=float)


def parachor(ctx):
    values = chemsep_values()
    return frame(values.index, values.to_numpy(), "parachor", "ChemSep", "compiled")


def derive(aggregated: pd.DataFrame) -> pd.DataFrame:
    """Records (smiles, value) for molecules with sigma_298 and a liquid density but no
    tabulated parachor. Prefers the saturated-liquid density at 298.15 K over the ~20 C one."""
    wide = aggregated[aggregated["task"].isin(INPUTS + ("parachor",))].pivot(
        index="smiles", columns="task", values="value")
    for col in INPUTS + ("parachor",):
        if col not in wide:
            wide[col] = np.nan
    rho = wide["liquid_density_298"].fillna(wide["density"])
    todo = wide[wide["surface_tension_298"].notna() & rho.notna() & wide["parachor"].isna()]
    mw = np.array([Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in todo.index], dtype=float)
    value = mw * todo["surface_tension_298"].to_numpy() ** 0.25 / rho.loc[todo.index].to_numpy()
    return pd.DataFrame({"smiles": todo.index.to_numpy(), "task": "parachor", "value": value,
                         "source": "derived", "kind": "derived"})


PRODUCERS = {"parachor": parachor}
