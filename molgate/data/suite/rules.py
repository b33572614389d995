"""Cross-property consistency rules: physics that ties the suite's tasks together.

A molecule's melting point below its boiling point below its critical point, a flash point
below the boiling point, Hess's law between formation enthalpies and the enthalpy of
vaporization, and so on. A value that breaks one of these cannot be right, and whichever value
of the pair is wrong, training on it teaches the model noise. Each rule names its tasks, the
tasks it may flag (in tie-break order) and its threshold; molgate/data/suite/README.md has the
table with references. Thresholds are wide enough that real compounds pass (checked on water,
ethanol and benzene in the tests and on the full suite).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem import Descriptors

R_BAR = 83.14462618  # cm3 bar / (mol K)
LOG10_ATM = float(np.log10(101325.0))


@dataclass(frozen=True)
class Rule:
    code: str
    tasks: tuple[str, ...]     # all tasks the test reads
    victims: tuple[str, ...]   # tasks that may be flagged; on a tie the first is flagged
    test: Callable[[pd.DataFrame], pd.Series]  # wide values -> True where inconsistent
    threshold: str
    reference: str
    optional: tuple[str, ...] = ()  # read when known (the density behind a parachor)


def _mw(smiles: pd.Index) -> pd.Series:
    return pd.Series([Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in smiles], index=smiles,
                     dtype=float)


def _liquid_rho(w: pd.DataFrame) -> pd.Series:
    return w["liquid_density_298"].fillna(w["density"])


def _macleod_sugden(w: pd.DataFrame) -> pd.Series:
    rho = _liquid_rho(w)
    rows = w.index[w["parachor"].notna() & w["surface_tension_298"].notna() & rho.notna()]
    ratio = pd.Series(np.nan, index=w.index)
    calc = _mw(rows) * w.loc[rows, "surface_tension_298"] ** 0.25 / rho.loc[rows]
    ratio.loc[rows] = w.loc[rows, "parachor"] / calc
    return (ratio - 1).abs() > 0.10


def _hvap_temperature(w: pd.DataFrame) -> pd.Series:
    tb, h298, htb = w["boiling_point"], w["hvap_298"], w["hvap_Tb"]
    return ((tb >= 308.15) & (h298 < htb - 2.0)) | ((tb <= 288.15) & (h298 > htb + 2.0))


def _psat_vs_tb(w: pd.DataFrame) -> pd.Series:
    tb, lp = w["boiling_point"], w["log10_psat_298"]
    return ((tb >= 303.15) & (lp > LOG10_ATM)) | ((tb <= 293.15) & (lp < LOG10_ATM))


def _zc(w: pd.DataFrame) -> pd.Series:
    zc = w["critical_pressure"] * w["critical_volume"] / (R_BAR * w["critical_temperature"])
    return (zc < 0.12) | (zc > 0.40)


RULES: tuple[Rule, ...] = (
    Rule("tm_ge_tb", ("melting_point", "boiling_point"), ("melting_point", "boiling_point"),
         lambda w: w["melting_point"] >= w["boiling_point"],
         "Tm >= Tb", "a liquid range exists at 1 atm (sublimers' 'boiling points' are not Tb)"),
    Rule("tb_ge_tc", ("boiling_point", "critical_temperature"),
         ("critical_temperature", "boiling_point"),
         lambda w: w["boiling_point"] >= w["critical_temperature"],
         "Tb >= Tc", "Poling, Prausnitz & O'Connell, Properties of Gases and Liquids, 5th ed."),
    Rule("tm_ge_tc", ("melting_point", "critical_temperature"),
         ("melting_point", "critical_temperature"),
         lambda w: w["melting_point"] >= w["critical_temperature"],
         "Tm >= Tc", "as above"),
    Rule("guldberg", ("boiling_point", "critical_temperature"),
         ("critical_temperature", "boiling_point"),
         lambda w: (w["boiling_point"] < w["critical_temperature"])
         & ~(w["boiling_point"] / w["critical_temperature"]).between(0.45, 0.90),
         "Tb/Tc outside [0.45, 0.90]",
         "Guldberg's rule Tb/Tc ~ 2/3 (Z. phys. Chem. 5, 374, 1890); suite 0.1-99.9%: 0.50-0.87"),
    Rule("triple_vs_tm", ("melting_point", "triple_point_T"), ("melting_point", "triple_point_T"),
         lambda w: (w["triple_point_T"] - w["melting_point"]).abs() > 5.0,
         "abs(Ttp - Tm) > 5 K",
         "dTm/dP ~ 0.01-0.03 K/bar (Clapeyron): Ttp and the normal Tm differ by < 1 K"),
    Rule("flash_ge_tb", ("flash_point", "boiling_point"), ("flash_point", "boiling_point"),
         lambda w: w["flash_point"] >= w["boiling_point"],
         "Tflash >= Tb", "the vapour reaches the LFL below Tb (Catoire & Naudet, "
         "J. Phys. Chem. Ref. Data 33, 1083, 2004: Tflash ~ 0.7 Tb)"),
    Rule("flash_ge_ait", ("flash_point", "autoignition_T"), ("flash_point", "autoignition_T"),
         lambda w: w["flash_point"] >= w["autoignition_T"],
         "Tflash >= AIT", "ignition with a source precedes self-ignition (NFPA 497)"),
    Rule("lfl_ge_ufl", ("LFL", "UFL"), ("UFL", "LFL"), lambda w: w["LFL"] >= w["UFL"],
         "LFL >= UFL", "definition of the flammable range (IEC 60079-20-1)"),
    Rule("trouton", ("hvap_Tb", "boiling_point"), ("hvap_Tb", "boiling_point"),
         lambda w: ~(1000 * w["hvap_Tb"] / w["boiling_point"]).between(55.0, 135.0),
         "hvap_Tb/Tb outside [55, 135] J/mol/K",
         "Trouton ~ 88 J/mol/K; 60 (acetic acid, dimers) to 110-125 (H-bonded liquids)"),
    Rule("hvap_temperature", ("hvap_298", "hvap_Tb", "boiling_point"), ("hvap_298", "hvap_Tb"),
         _hvap_temperature,
         "hvap_298 < hvap_Tb - 2 kJ/mol for Tb >= 308 K (or > +2 for Tb <= 288 K)",
         "hvap falls with T towards 0 at Tc (Watson, Ind. Eng. Chem. 35, 398, 1943)"),
    Rule("psat_vs_tb", ("log10_psat_298", "boiling_point"), ("log10_psat_298", "boiling_point"),
         _psat_vs_tb, "psat_298 > 1 atm with Tb >= 303 K, or < 1 atm with Tb <= 293 K",
         "definition of the normal boiling point (psat(Tb) = 1 atm, psat rises with T)"),
    Rule("density_vs_liquid", ("density", "liquid_density_298"), ("density", "liquid_density_298"),
         lambda w: ~(w["density"] / w["liquid_density_298"]).between(0.95, 1.06),
         "density(~20 C) / liquid_density_298 outside [0.95, 1.06]",
         "thermal expansion ~0.1%/K gives 1.005; a solid's density is typically 10-20% higher"),
    Rule("macleod_sugden", ("parachor", "surface_tension_298"),
         ("parachor", "surface_tension_298"), _macleod_sugden,
         "abs(P / (MW sigma^0.25 / rho_l) - 1) > 10%",
         "Macleod (Trans. Faraday Soc. 19, 38, 1923), Sugden (J. Chem. Soc. 125, 1177, 1924)",
         optional=("liquid_density_298", "density")),
    Rule("hess_vaporization", ("hf_gas", "hf_liquid", "hvap_298"),
         ("hf_liquid", "hf_gas", "hvap_298"),
         lambda w: (w["hf_gas"] - w["hf_liquid"] - w["hvap_298"]).abs() > 10.0,
         "abs(hf_gas - hf_liquid - hvap_298) > 10 kJ/mol", "Hess's law at 298.15 K"),
    Rule("hess_sublimation", ("hf_gas", "hf_solid", "hsub"), ("hf_solid", "hf_gas", "hsub"),
         lambda w: (w["hf_gas"] - w["hf_solid"] - w["hsub"]).abs() > 15.0,
         "abs(hf_gas - hf_solid - hsub) > 15 kJ/mol",
         "Hess's law (hsub tabulated near, not at, 298 K: wider tolerance)"),
    Rule("hsub_lt_hvap", ("hsub", "hvap_298"), ("hsub", "hvap_298"),
         lambda w: w["hsub"] < w["hvap_298"] - 5.0, "hsub < hvap_298 - 5 kJ/mol",
         "hsub = hvap + hfus at one temperature, hfus > 0"),
    Rule("critical_zc", ("critical_temperature", "critical_pressure", "critical_volume"),
         ("critical_volume", "critical_pressure", "critical_temperature"), _zc,
         "Zc = Pc Vc / (R Tc) outside [0.12, 0.40]",
         "Poling et al.: Zc of organic compounds 0.2-0.3; suite 1-99%: 0.12-0.33"),
    Rule("eps_lt_n2", ("dielectric_constant", "refractive_index"),
         ("dielectric_constant", "refractive_index"),
         lambda w: w["dielectric_constant"] < 0.9 * w["refractive_index"] ** 2,
         "epsilon < 0.9 n_D^2",
         "Maxwell: the static permittivity includes the optical one, eps >= n^2"),
    Rule("cp_liquid_le_gas", ("cp_liquid_298", "cp_gas_298"), ("cp_liquid_298", "cp_gas_298"),
         lambda w: w["cp_liquid_298"] <= w["cp_gas_298"], "cp_liquid_298 <= cp_gas_298",
         "a liquid adds intermolecular modes to the ideal gas's heat capacity"),
    Rule("s0_liquid_ge_gas", ("s0_liquid", "s0_gas"), ("s0_liquid", "s0_gas"),
         lambda w: w["s0_liquid"] >= w["s0_gas"], "s0_liquid >= s0_gas",
         "S(g) - S(l) = hvap/T + R ln(psat/p0) > 0 for organic liquids at 298 K"),
    Rule("octane_sensitivity", ("RON", "MON"), ("MON", "RON"),
         lambda w: w["MON"] - w["RON"] > 10.0, "MON - RON > 10",
         "octane sensitivity RON - MON is >= 0 or slightly negative (Kalghatgi, SAE 2001-01-3584)"),
)
RULE_CODES = tuple(r.code for r in RULES)
EVIDENCE_TASKS = {t for r in RULES for t in r.tasks + r.optional}


def rules_for(tasks) -> list[Rule]:
    """Rules that may flag a value of one of `tasks`."""
    tasks = set(tasks)
    return [r for r in RULES if tasks & set(r.victims)]


def check(wide: pd.DataFrame, score: pd.DataFrame, sources: pd.DataFrame,
          zscore: pd.DataFrame | None = None, rules=RULES) -> pd.DataFrame:
    """Flags (smiles, task, flag, detail) of the values that break a rule.

    `wide`, `score`, `sources` and `zscore` (robust z against structural analogues, NaN where
    unknown) are indexed by SMILES with one column per task. In each inconsistent row the
    victim with the lowest reliability score is flagged; on a tie the one farther from its
    analogues (|z| in whole units), then the rule's first victim. Rules run in order and a value
    an earlier rule flagged is the first suspect in later rules, so one bad value does not drag
    a good partner down with it.
    """
    columns = sorted(set(wide.columns) | EVIDENCE_TASKS)
    wide = wide.reindex(columns=columns)
    score = score.reindex(index=wide.index, columns=columns)
    sources = sources.reindex(index=wide.index, columns=columns)
    zscore = (pd.DataFrame(np.nan, index=wide.index, columns=columns) if zscore is None
              else zscore.reindex(index=wide.index, columns=columns))
    flagged = pd.DataFrame(False, index=wide.index, columns=columns)
    out = []
    for rule in rules:
        sub = wide[wide[list(rule.tasks)].notna().all(axis=1)]
        with np.errstate(all="ignore"):
            bad = rule.test(sub).fillna(False).to_numpy(bool)
        idx = sub.index[bad]
        if not len(idx):
            continue
        victims = list(rule.victims)
        rank = (score.loc[idx, victims].to_numpy(float)
                - 1000.0 * flagged.loc[idx, victims].to_numpy(float))
        z = np.minimum(np.nan_to_num(np.abs(zscore.loc[idx, victims].to_numpy(float))), 999.0)
        rank = rank * 1e5 - np.round(z) * 10 + np.arange(len(victims))
        pick = np.array(victims)[np.argmin(rank, axis=1)]
        shown = list(rule.tasks + rule.optional)
        detail = _details(wide.loc[idx, shown], sources.loc[idx, shown])
        for smi, task, text in zip(idx, pick, detail):
            flagged.loc[smi, task] = True
            out.append((smi, task, rule.code, f"{rule.threshold}: {text}"))
    return pd.DataFrame(out, columns=["smiles", "task", "flag", "detail"])


def _details(values: pd.DataFrame, sources: pd.DataFrame) -> list[str]:
    cols = list(values.columns)
    return ["; ".join(f"{t}={v:.5g} [{s}]" for t, v, s in zip(cols, vrow, srow) if v == v)
            for vrow, srow in zip(values.to_numpy(float), sources.to_numpy(object))]
