"""Consistency rules of the suite's curation: each rule passes water, ethanol and benzene with
their literature values and catches a constructed bad value (tiny frames, no build)."""
import numpy as np
import pandas as pd
import pytest

from molgate.data.suite import rules
from molgate.data.suite.rules import RULE_CODES, RULES, check

WATER, ETHANOL, BENZENE = "O", "CCO", "c1ccccc1"

# Literature values (CRC Handbook, NIST WebBook; units of the suite's tasks). Benzene's and
# water's solid formation enthalpies at 298 K are the hypothetical ones hf_gas - hsub.
GOOD = {
    WATER: dict(melting_point=273.15, boiling_point=373.12, critical_temperature=647.1,
                critical_pressure=220.64, critical_volume=55.95, triple_point_T=273.16,
                density=0.998, liquid_density_298=0.997, surface_tension_298=71.97,
                parachor=52.63, hvap_Tb=40.65, hvap_298=43.99, hf_gas=-241.83,
                hf_liquid=-285.83, hf_solid=-292.7, hsub=51.06, log10_psat_298=3.501,
                dielectric_constant=78.4, refractive_index=1.333, cp_gas_298=33.58,
                cp_liquid_298=75.33, s0_gas=188.84, s0_liquid=69.95),
    ETHANOL: dict(melting_point=159.0, boiling_point=351.44, critical_temperature=514.7,
                  critical_pressure=61.37, critical_volume=168.0, triple_point_T=159.0,
                  flash_point=286.15, autoignition_T=636.15, LFL=3.3, UFL=19.0,
                  density=0.7893, liquid_density_298=0.7849, surface_tension_298=21.97,
                  parachor=127.07, hvap_Tb=38.56, hvap_298=42.32, hf_gas=-234.8,
                  hf_liquid=-277.6, log10_psat_298=3.896, dielectric_constant=25.3,
                  refractive_index=1.3611, cp_gas_298=65.6, cp_liquid_298=112.3,
                  s0_gas=281.6, s0_liquid=160.7, RON=108.6, MON=89.7),
    BENZENE: dict(melting_point=278.68, boiling_point=353.24, critical_temperature=562.05,
                  critical_pressure=48.95, critical_volume=256.0, triple_point_T=278.67,
                  flash_point=262.15, autoignition_T=771.15, LFL=1.2, UFL=7.8,
                  density=0.8765, liquid_density_298=0.8737, surface_tension_298=28.22,
                  parachor=206.06, hvap_Tb=30.72, hvap_298=33.83, hf_gas=82.9, hf_liquid=49.0,
                  hf_solid=38.4, hsub=44.4, log10_psat_298=4.1035, dielectric_constant=2.28,
                  refractive_index=1.5011, cp_gas_298=82.4, cp_liquid_298=136.0, s0_gas=269.2,
                  s0_liquid=173.4, RON=101.0, MON=88.0),
}

# rule -> (molecule, task, bad value, the task the rule should flag when scores tie)
BAD = {
    "tm_ge_tb": (ETHANOL, "melting_point", 476.0, "melting_point"),
    "tb_ge_tc": (ETHANOL, "critical_temperature", 340.0, "critical_temperature"),
    "tm_ge_tc": (BENZENE, "critical_temperature", 270.0, "melting_point"),
    "guldberg": (ETHANOL, "critical_temperature", 900.0, "critical_temperature"),
    "triple_vs_tm": (BENZENE, "triple_point_T", 250.0, "melting_point"),
    "flash_ge_tb": (ETHANOL, "flash_point", 360.0, "flash_point"),
    "flash_ge_ait": (ETHANOL, "autoignition_T", 280.0, "flash_point"),
    "lfl_ge_ufl": (ETHANOL, "LFL", 20.0, "UFL"),
    "trouton": (ETHANOL, "hvap_Tb", 60.0, "hvap_Tb"),
    "hvap_temperature": (ETHANOL, "hvap_298", 30.0, "hvap_298"),
    "psat_vs_tb": (ETHANOL, "log10_psat_298", 5.5, "log10_psat_298"),
    "density_vs_liquid": (BENZENE, "density", 1.1, "density"),
    "macleod_sugden": (BENZENE, "parachor", 260.0, "parachor"),
    "hess_vaporization": (ETHANOL, "hf_liquid", -300.0, "hf_liquid"),
    "hess_sublimation": (BENZENE, "hf_solid", 0.0, "hf_solid"),
    "hsub_lt_hvap": (BENZENE, "hsub", 20.0, "hsub"),
    "critical_zc": (ETHANOL, "critical_volume", 400.0, "critical_volume"),
    "eps_lt_n2": (BENZENE, "dielectric_constant", 1.5, "dielectric_constant"),
    "cp_liquid_le_gas": (ETHANOL, "cp_liquid_298", 60.0, "cp_liquid_298"),
    "s0_liquid_ge_gas": (ETHANOL, "s0_liquid", 300.0, "s0_liquid"),
    "octane_sensitivity": (ETHANOL, "MON", 125.0, "MON"),
}
RULE = {r.code: r for r in RULES}


def _wide(values: dict) -> pd.DataFrame:
    return pd.DataFrame(values).T.reindex(columns=sorted(rules.EVIDENCE_TASKS))


def _frames(wide, score=None):
    score = wide.notna().astype(float) if score is None else score
    sources = wide.where(wide.isna(), "CRC")
    return wide, score.reindex_like(wide), sources


def test_every_rule_has_a_bad_case():
    assert set(BAD) == set(RULE_CODES)


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_passes_water_ethanol_benzene(code):
    rule = RULE[code]
    wide = _wide(GOOD)
    rows = wide[list(rule.tasks)].notna().all(axis=1)
    assert rows.any(), f"{code}: no good molecule has its tasks"
    assert not rule.test(wide[rows]).fillna(False).any()


def test_no_flags_on_the_good_molecules():
    assert check(*_frames(_wide(GOOD))).empty


@pytest.mark.parametrize("code", RULE_CODES)
def test_rule_catches_a_bad_value(code):
    smiles, task, value, victim = BAD[code]
    bad = {k: dict(v) for k, v in GOOD.items()}
    bad[smiles][task] = value
    wide = _wide(bad)
    assert bool(rule_hit := RULE[code].test(wide.loc[[smiles]]).fillna(False).iloc[0]), rule_hit
    flags = check(*_frames(wide), rules=[RULE[code]])
    assert list(zip(flags["smiles"], flags["task"], flags["flag"])) == [(smiles, victim, code)]
    assert "[CRC]" in flags["detail"].iloc[0]


def test_less_reliable_value_is_flagged():
    wide = _wide({ETHANOL: dict(melting_point=476.0, boiling_point=351.44)})
    score = wide.notna().astype(float)
    score.loc[ETHANOL, "boiling_point"] = 125.0  # corroborated
    flags = check(*_frames(wide, score), rules=[RULE["tm_ge_tb"]])
    assert flags["task"].tolist() == ["melting_point"]
    score.loc[ETHANOL, ["melting_point", "boiling_point"]] = [125.0, 3.0]
    flags = check(*_frames(wide, score), rules=[RULE["tm_ge_tb"]])
    assert flags["task"].tolist() == ["boiling_point"]


def test_tie_goes_to_the_value_far_from_its_analogues():
    wide = _wide({ETHANOL: dict(melting_point=476.0, boiling_point=351.44)})
    z = pd.DataFrame(np.nan, index=wide.index, columns=wide.columns)
    z.loc[ETHANOL, "boiling_point"] = 9.0
    flags = check(*_frames(wide), zscore=z, rules=[RULE["tm_ge_tb"]])
    assert flags["task"].tolist() == ["boiling_point"]


def test_earlier_flag_makes_the_first_suspect():
    # A Tb below Tm loses against a more reliable Tm; the flash point check then suspects the
    # flagged Tb again, not the (less reliable on its own) flash point.
    wide = _wide({BENZENE: dict(GOOD[BENZENE], boiling_point=250.0)})
    score = wide.notna().astype(float)
    score.loc[BENZENE, ["melting_point", "flash_point"]] = [5.0, 0.5]
    flags = check(*_frames(wide, score), rules=[RULE["tm_ge_tb"], RULE["flash_ge_tb"]])
    assert flags["task"].tolist() == ["boiling_point", "boiling_point"]
    assert flags["flag"].tolist() == ["tm_ge_tb", "flash_ge_tb"]
