"""Read the tables shipped in `chemicals` through its own loader, never its prediction tables.

`chemicals.data_reader.data_source` loads (and caches) a table that one of the chemicals modules
registered; importing that module registers it. Tables that chemicals ships but does not register
(the cetane numbers) are registered here with chemicals' own `register_df_source`, from the folder
the owning module uses, so no file path is hard-coded.
"""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
from chemicals import data_reader

# Model outputs shipped inside chemicals: they must never become labels.
PREDICTION_TABLES = frozenset({
    "joback_predictions.tsv",
    "wilson_jasperson_Tc_Pc_predictions.tsv",
    "fedors_Vc_predictions.tsv",
    "omega_Psat_Tc_predictions.tsv",
    "psi4_dipoles.tsv",
    "psi4_linear.tsv",
    "psi4_radius_of_gyrations.tsv",
    "psi4_adjusted_characteristic_temperatures.json",
    "psi4_unadjusted_characteristic_temperatures.json",
    "Florian_Liming_RON_MON_ANN.tsv",
    "Travis_Kessler_Combustdb_predictions.tsv",
    "Alibakhshi one-coefficient enthalpy of vaporization.tsv",
})

# Tables read as-is but known to be wrong for this purpose (see the data guide).
UNRELIABLE_TABLES = frozenset({
    "Viswanath Natarajan Dynamic 2 term.tsv",              # 2-3x too low
    "Viswanath Natarajan Dynamic 2 term Exponential.tsv",  # broken rows
})

# chemicals module that registers each table we read.
_OWNER = {
    "OpenNotebook Melting Points.tsv": "phase_change",
    "Yaws Boiling Points.tsv": "phase_change",
    "Ghazerati Appendix Vaporization Enthalpy.tsv": "phase_change",
    "Ghazerati Appendix Sublimation Enthalpy.tsv": "phase_change",
    "CRC Handbook Heat of Vaporization.tsv": "phase_change",
    "CRC Handbook Heat of Fusion.tsv": "phase_change",
    "Table 2-150 Heats of Vaporization of Inorganic and Organic Liquids.tsv": "phase_change",
    "VDI PPDS Enthalpies of vaporization.tsv": "phase_change",
    "Physical Constants of Organic Compounds.csv": "miscdata",
    "Physical Constants of Inorganic Compounds.csv": "miscdata",
    "webbook_constants.tsv": "miscdata",
    "wikidata_properties.tsv": "miscdata",
    "common_chemistry_data.tsv": "miscdata",
    "heos_constants.tsv": "miscdata",
    "IUPACOrganicCriticalProps.tsv": "critical",
    "CRCCriticalOrganics.tsv": "critical",
    "Appendix to PSRK Revision 4.tsv": "critical",
    "PassutDanner1973.tsv": "critical",
    "Yaws Collection.tsv": "critical",
    "DIPPRPinaMartines.tsv": "critical",
    "ATcT 1.112 (g).tsv": "reaction",
    "ATcT 1.112 (l).tsv": "reaction",
    "API TDB Albahri Hf (g).tsv": "reaction",
    "Yaws Hf S0 (g).tsv": "reaction",
    "CRC Standard Thermodynamic Properties of Chemical Substances.tsv": "heat_capacity",
    "PolingDatabank.tsv": "heat_capacity",
    "Syrres logP data.csv.gz": "environment",
    "CRC logP table.tsv": "environment",
    "CRC Handbook Organic RI.csv": "refractivity",
    "Permittivity (Dielectric Constant) of Liquids.tsv": "permittivity",
    "Poling Dipole.csv": "dipole",
    "cccbdb.nist.gov Dipoles.csv": "dipole",
    "Muller Supporting Info Dipoles.csv": "dipole",
    "alshehri_hansen_solubility_parameters.tsv": "solubility",
    "hspipy_hansen_solubility_parameters.tsv": "solubility",
    "ruben_manuel_hansen_solubility_parameters.tsv": "solubility",
    "schrier_hansen_solubility_parameters.tsv": "solubility",
    "Staveley 1981.tsv": "triple",
    "DIPPR T_flash Serat.csv": "safety",
    "IS IEC 60079-20-1 2010.tsv": "safety",
    "NFPA 497 2008.tsv": "safety",
    "Florian_Liming_RON_experimental.tsv": "combustion",
    "Florian_Liming_MON_experimental.tsv": "combustion",
    "Travis_Kessler_Combustdb_RON.tsv": "combustion",
    "Travis_Kessler_Combustdb_MON.tsv": "combustion",
    "Florian_Liming_CETANE_experimental.tsv": "combustion",
    "Travis_Kessler_Combustdb_CETANE.tsv": "combustion",
    "Jasper-Lange.tsv": "interface",
    "MuleroCachadinaParameters.tsv": "interface",
    "VDI PPDS surface tensions.tsv": "interface",
    "Viswanath Natarajan Dynamic 3 term.tsv": "viscosity",
    "Dutt Prasad 3 term.tsv": "viscosity",
    "Table 2-313 Viscosity of Inorganic and Organic Liquids.tsv": "viscosity",
    "VDI PPDS Dynamic viscosity of saturated liquids polynomials.tsv": "viscosity",
    "Perry Parameters 105.tsv": "volume",
    "VDI PPDS Density of Saturated Liquids.tsv": "volume",
    "Antoine Collection Poling.tsv": "vapor_pressure",
    "Antoine Extended Collection Poling.tsv": "vapor_pressure",
    "Wagner Collection Poling.tsv": "vapor_pressure",
    "Wagner Original McGarry.tsv": "vapor_pressure",
    "Landolt_antoine_V20.tsv": "vapor_pressure",
    "Table 2-8 Vapor Pressure of Inorganic and Organic Liquids.tsv": "vapor_pressure",
    "VDI PPDS Boiling temperatures at different pressures.tsv": "vapor_pressure",
    "Table 2-315 Thermal Conductivity of Inorganic and Organic Liquids.tsv": "thermal_conductivity",
    "VDI PPDS Thermal conductivity of saturated liquids.tsv": "thermal_conductivity",
}

# Shipped by chemicals but not registered by it: register them with its own loader.
_UNREGISTERED = ("Florian_Liming_CETANE_experimental.tsv", "Travis_Kessler_Combustdb_CETANE.tsv")

READABLE_TABLES = frozenset(_OWNER)
TABLES_READ: set[str] = set()  # filled by read(); the builder reports it in the manifest
assert not READABLE_TABLES & PREDICTION_TABLES
assert not READABLE_TABLES & UNRELIABLE_TABLES


def chemicals_module(name: str):
    """Import `chemicals.<name>` (importing registers its tables with data_reader)."""
    return importlib.import_module(f"chemicals.{name}")


def read(key: str) -> pd.DataFrame:
    """The chemicals table `key` as a DataFrame indexed by CAS (string or int)."""
    if key in PREDICTION_TABLES or key in UNRELIABLE_TABLES:
        raise ValueError(f"{key!r} holds predictions or known-bad fits; it is never a label")
    if key not in _OWNER:
        raise KeyError(f"table {key!r} is not one the suite reads")
    module = chemicals_module(_OWNER[key])
    TABLES_READ.add(key)
    if key in _UNREGISTERED and key not in data_reader.load_cmds:
        data_reader.register_df_source(module.folder, key)
    return data_reader.data_source(key)


def column(df: pd.DataFrame, name: str) -> np.ndarray:
    """A column as a dense float array (chemicals stores some columns as sparse)."""
    series = df[name]
    if isinstance(series.dtype, pd.SparseDtype):
        series = series.sparse.to_dense()
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, copy=True)


def chemicals_folder(module_name: str) -> str:
    """Data folder of a chemicals module (for the one file with no DataFrame loader: ChemSep)."""
    return chemicals_module(module_name).folder


def note_file(name: str) -> None:
    """Record a chemicals data file read without the DataFrame loader (ChemSep's XML)."""
    TABLES_READ.add(name)


def safe_log10(values):
    """log10 of positive values; NaN elsewhere, without numpy warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
