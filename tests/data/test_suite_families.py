"""Per-family checks of the property suite on a few CAS numbers (fast: no full build)."""
import numpy as np
import pandas as pd
import pytest

from molgate.data.suite import clean, critical, interface, misc, parachor, phase_change
from molgate.data.suite import viscosity, volume
from molgate.data.suite.identifiers import check_smiles, classify_cas
from molgate.data.suite.records import Context
from molgate.data.suite.tables import PREDICTION_TABLES, READABLE_TABLES, read
from molgate.data.suite.tasks import SOURCES, TASKS

WATER = 7732185
ETHANOL = 64175


@pytest.fixture(scope="module")
def ctx():
    return Context()


def _values(records, cas):
    return records.loc[records["cas"] == cas, "value"].to_numpy()


def test_water_boiling_point_in_kelvin(ctx):
    tb = _values(phase_change.boiling_point(ctx), WATER)
    assert tb.size >= 2
    assert abs(np.median(tb) - 373.1) < 0.5


def test_water_density_in_g_per_cm3(ctx):
    rho = _values(volume.density(ctx), WATER)
    assert rho.size >= 1
    assert np.median(rho) == pytest.approx(1.0, abs=0.01)


def test_water_viscosity_log10_mpas_at_298(ctx):
    recs = viscosity.viscosity_298(ctx)
    log_mu = _values(recs, WATER)
    assert log_mu.size >= 2  # several correlations agree
    assert np.median(log_mu) == pytest.approx(-0.05, abs=0.02)
    assert 10 ** np.median(log_mu) == pytest.approx(0.89, abs=0.03)
    assert set(recs["source"]) <= set(TASKS["viscosity_298"].sources)


def test_ethanol_surface_tension_and_critical_units(ctx):
    sigma = _values(interface.surface_tension_298(ctx), ETHANOL)
    assert np.median(sigma) == pytest.approx(22.0, abs=0.6)  # mN/m
    pc = _values(critical.critical_pressure(ctx), ETHANOL)
    assert np.median(pc) == pytest.approx(61.4, abs=1.5)  # bar
    vc = _values(critical.critical_volume(ctx), ETHANOL)
    assert np.median(vc) == pytest.approx(168, abs=5)  # cm3/mol


def test_correlation_outside_its_range_is_not_used(ctx):
    # Benzamide melts at 400 K: Jasper-Lange's fit starts at 402 K, so no 298 K value.
    jl = read("Jasper-Lange.tsv")
    assert jl.loc["55-21-0", "Tmin"] > 298.15
    recs = interface.surface_tension_298(ctx)
    assert not ((recs["cas"] == 55210) & (recs["source"] == "Jasper-Lange")).any()


def test_chemsep_parachor_unit_conversion():
    values = parachor.chemsep_values()
    assert values["71-43-2"] == pytest.approx(206, rel=0.03)  # benzene, (mN/m)^0.25 cm3/mol


@pytest.mark.parametrize("cas, reasons", [
    ("7647-14-5", {"multi_fragment", "no_carbon"}),  # sodium chloride
    ("127-09-3", {"multi_fragment"}),                # sodium acetate
    ("7664-41-7", {"no_carbon"}),                    # ammonia
    ("7664-93-9", {"no_carbon"}),                    # sulfuric acid
    ("7732-18-5", {"no_carbon"}),                    # water
])
def test_filter_rejects_with_reason(cas, reasons):
    verdict = classify_cas(cas)
    assert not verdict.accepted
    assert verdict.reason in reasons
    assert verdict.smiles is None


@pytest.mark.parametrize("smiles, reason", [
    ("C[N+](C)(C)C", "charged"),
    ("[CH3]", "radical"),
    ("C[Hg]C", "disallowed_element"),
    ("CC(=O)[O-].[Na+]", "multi_fragment"),
    ("not a smiles", "unparsable"),
    ("", "no_smiles"),
])
def test_check_smiles_reasons(smiles, reason):
    assert check_smiles(smiles).reason == reason


def test_filter_accepts_and_canonicalises():
    assert classify_cas("64-17-5").smiles == "CCO"
    v = check_smiles("N[C@@H](C)C(=O)O")
    assert v.accepted and "@" in v.smiles and "@" not in v.smiles_flat


def test_no_prediction_table_is_a_label():
    assert not READABLE_TABLES & PREDICTION_TABLES
    for key in ("joback_predictions.tsv", "psi4_dipoles.tsv",
                "wilson_jasperson_Tc_Pc_predictions.tsv", "fedors_Vc_predictions.tsv",
                "Florian_Liming_RON_MON_ANN.tsv", "Viswanath Natarajan Dynamic 2 term.tsv"):
        with pytest.raises(ValueError):
            read(key)
    banned = ("joback", "psi4", "wilson", "fedors", "predict", "ann")
    for source in SOURCES:
        assert not any(word in source.lower().replace("-", " ").split() for word in banned)
        assert not any(word in source.lower() for word in banned if word != "ann"), source


def test_dielectric_prefers_measured_value(ctx):
    recs = misc.dielectric_constant(ctx)
    eth = recs[recs["cas"] == ETHANOL]
    assert list(eth["kind"]) == ["measured"] and eth["value"].iloc[0] == pytest.approx(25.3)


def test_melting_point_guard_drops_computed_liquid_values_of_solids():
    rec = pd.DataFrame({
        "smiles": ["A", "A", "A", "B", "B"],
        "task": ["melting_point", "viscosity_298", "hvap_298", "melting_point", "viscosity_298"],
        "value": [450.0, 0.3, 90.0, 200.0, -0.2],
        "source": ["CRC", "VDI", "CRC", "CRC", "VDI"],
        "kind": ["measured", "computed", "measured", "measured", "computed"],
    })
    kept, dropped, molecules = clean.melting_guard(rec)
    assert dropped == {"viscosity_298": 1} and molecules == {"viscosity_298": 1}
    assert len(kept) == 4  # measured Hvap of A and liquid B stay


def test_common_chemistry_low_boiling_point_is_dropped():
    rec = pd.DataFrame({
        "smiles": ["A", "A", "A", "B"], "task": ["boiling_point"] * 4,
        "value": [500.0, 470.0, 502.0, 400.0],
        "source": ["CRC", "CAS Common Chemistry", "WebBook", "CAS Common Chemistry"],
        "kind": ["measured"] * 4})
    kept, n = clean.prefer_crc_webbook_tb(rec)
    assert n == 1 and sorted(kept["value"]) == [400.0, 500.0, 502.0]


def test_derived_parachor_uses_mw_sigma_rho():
    agg = pd.DataFrame({"smiles": ["c1ccccc1", "c1ccccc1"],
                        "task": ["surface_tension_298", "density"], "value": [28.2, 0.8765]})
    out = parachor.derive(agg)
    assert out["value"].iloc[0] == pytest.approx(78.114 * 28.2 ** 0.25 / 0.8765, rel=1e-3)
