"""Task metadata of the built-in property suite, and the presets that name groups of tasks.

Each task says its unit, what kind of number it is (measured, compiled, computed at 298.15 K,
derived), which sources may feed it and the plausibility window that catches unit and typo
errors. Keeping this in one table lets the manifest, the README and the tests agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

T_REF = 298.15  # K, the temperature of every "_298" task


@dataclass(frozen=True)
class Task:
    name: str
    unit: str
    kind: str
    sources: tuple[str, ...]
    description: str
    window: tuple[float, float]

    def as_dict(self) -> dict:
        return {"unit": self.unit, "kind": self.kind, "sources": list(self.sources),
                "description": self.description, "window": list(self.window)}


HANSEN = ("Hansen-Alshehri", "Hansen-HSPiPy", "Hansen-Ruben-Manuel", "Hansen-Schrier")
CRITICAL = ("IUPAC", "CRC", "WebBook", "DIPPR", "PSRK", "HEOS", "Passut-Danner", "Yaws")
SAFETY = ("IEC 60079-20-1", "NFPA 497", "Wikidata")

_TASKS = [
    Task("melting_point", "K", "measured",
         ("Bradley", "CRC", "CAS Common Chemistry", "WebBook", "Wikidata"),
         "Normal melting point.", (50.0, 800.0)),
    Task("boiling_point", "K", "measured (+compiled)",
         ("CRC", "WebBook", "CAS Common Chemistry", "Yaws"),
         "Normal boiling point at 1 atm; Common Chemistry values far from CRC/WebBook are dropped.",
         (90.0, 900.0)),
    Task("density", "g/cm3", "measured",
         ("CRC", "CAS Common Chemistry"),
         "Density near 20 C; solids and liquids mixed (see liquid_density_298 for liquids only).",
         (0.3, 4.5)),
    Task("critical_temperature", "K", "measured + compiled", CRITICAL,
         "Critical temperature.", (150.0, 1500.0)),
    Task("critical_pressure", "bar", "measured + compiled", CRITICAL,
         "Critical pressure.", (3.0, 150.0)),
    Task("critical_volume", "cm3/mol", "measured + compiled",
         ("IUPAC", "CRC", "WebBook", "DIPPR", "PSRK", "HEOS", "Yaws"),
         "Critical molar volume.", (50.0, 4000.0)),
    Task("hf_gas", "kJ/mol", "measured + compiled",
         ("ATcT", "CRC", "WebBook", "API-TDB", "Yaws"),
         "Standard enthalpy of formation of the ideal gas at 298.15 K.", (-5000.0, 2500.0)),
    Task("logP", "-", "measured", ("Syrres", "CRC"),
         "Experimental octanol-water partition coefficient (log10).", (-10.0, 15.0)),
    Task("refractive_index", "-", "measured", ("CRC",),
         "Refractive index n_D of the liquid or solid, measured at 288-298 K.", (1.2, 2.0)),
    Task("acentric_factor", "-", "compiled", ("Yaws", "PSRK", "HEOS", "Passut-Danner"),
         "Pitzer acentric factor.", (-0.3, 2.5)),
    Task("s0_gas", "J/mol/K", "measured + compiled", ("CRC", "WebBook", "Yaws"),
         "Standard molar entropy of the ideal gas at 298.15 K.", (150.0, 3000.0)),
    Task("hvap_298", "kJ/mol", "measured (+computed at 298.15 K)",
         ("CRC", "Gharagheizi", "DIPPR", "VDI"),
         "Enthalpy of vaporization at 298.15 K.", (5.0, 300.0)),
    Task("hf_liquid", "kJ/mol", "measured", ("CRC", "WebBook", "ATcT"),
         "Standard enthalpy of formation of the liquid at 298.15 K.", (-5000.0, 2500.0)),
    Task("hf_solid", "kJ/mol", "measured", ("CRC", "WebBook"),
         "Standard enthalpy of formation of the solid at 298.15 K.", (-5000.0, 2500.0)),
    Task("hsub", "kJ/mol", "measured", ("Gharagheizi", "WebBook"),
         "Enthalpy of sublimation (near 298 K).", (10.0, 400.0)),
    Task("log10_psat_298", "log10(Pa)", "computed at 298.15 K",
         ("Poling", "McGarry", "DIPPR", "VDI", "WebBook", "Landolt"),
         "Vapour pressure of the liquid at 298.15 K from Antoine/Wagner/DIPPR/VDI fits.",
         (-15.0, 8.0)),
    Task("hansen_dD", "MPa^0.5", "semi-empirical", HANSEN,
         "Hansen solubility parameter, dispersion part.", (5.0, 35.0)),
    Task("hansen_dP", "MPa^0.5", "semi-empirical", HANSEN,
         "Hansen solubility parameter, polar part.", (0.0, 45.0)),
    Task("hansen_dH", "MPa^0.5", "semi-empirical", HANSEN,
         "Hansen solubility parameter, hydrogen-bonding part.", (0.0, 50.0)),
    Task("flash_point", "K", "measured",
         ("DIPPR-Serat",) + SAFETY,
         "Flash point.", (150.0, 700.0)),
    Task("dielectric_constant", "-", "measured (+computed at 298.15 K)", ("CRC",),
         "Static relative permittivity of the liquid measured at 293-303 K, else CRC's fit of "
         "the measurements at 298.15 K inside its range.", (1.0, 250.0)),
    Task("triple_point_T", "K", "measured", ("Staveley", "WebBook", "HEOS"),
         "Triple-point temperature.", (50.0, 800.0)),
    Task("parachor", "(mN/m)^0.25 cm3/mol", "derived", ("ChemSep", "derived"),
         "Parachor: ChemSep values, plus MW*sigma^0.25/rho from this suite's surface_tension_298 "
         "and liquid density where no tabulated value exists.", (30.0, 3000.0)),
    Task("cp_liquid_298", "J/mol/K", "measured (+computed at 298.15 K)",
         ("CRC", "Poling", "Zabransky"),
         "Isobaric heat capacity of the liquid at 298.15 K.", (20.0, 3000.0)),
    Task("hydration_free_energy", "kcal/mol", "measured", ("FreeSolv",),
         "Hydration free energy (FreeSolv v0.52, Mobley & Guthrie 2014).", (-30.0, 10.0)),
    Task("surface_tension_298", "mN/m", "computed at 298.15 K",
         ("Jasper-Lange", "VDI", "Mulero-Cachadina"),
         "Liquid-vapour surface tension at 298.15 K from fits valid at that temperature.",
         (0.05, 100.0)),
    Task("viscosity_298", "log10(mPa*s)", "computed at 298.15 K",
         ("DIPPR", "VDI", "Viswanath-Natarajan", "Dutt-Prasad"),
         "log10 of the liquid dynamic viscosity at 298.15 K (3-term Viswanath-Natarajan only).",
         (-1.5, 5.0)),
    Task("dipole_moment", "debye", "measured", ("CCCBDB", "Muller", "Poling"),
         "Gas-phase dipole moment.", (0.0, 12.0)),
    Task("hfus", "kJ/mol", "measured", ("CRC",),
         "Enthalpy of fusion at the melting point.", (0.1, 200.0)),
    Task("hvap_Tb", "kJ/mol", "measured", ("CRC",),
         "Enthalpy of vaporization at the normal boiling point.", (5.0, 200.0)),
    Task("s0_liquid", "J/mol/K", "measured", ("CRC", "WebBook"),
         "Standard molar entropy of the liquid at 298.15 K.", (50.0, 2500.0)),
    Task("cp_gas_298", "J/mol/K", "measured", ("CRC", "Poling"),
         "Isobaric heat capacity of the ideal gas at 298.15 K.", (20.0, 2000.0)),
    Task("liquid_density_298", "g/cm3", "computed at 298.15 K", ("DIPPR", "VDI"),
         "Saturated liquid density at 298.15 K from DIPPR-105 and VDI PPDS fits.", (0.3, 3.5)),
    Task("autoignition_T", "K", "measured", SAFETY,
         "Autoignition temperature.", (400.0, 1100.0)),
    Task("thermal_conductivity_liquid_298", "W/m/K", "computed at 298.15 K", ("DIPPR", "VDI"),
         "Thermal conductivity of the saturated liquid at 298.15 K.", (0.03, 0.8)),
    Task("LFL", "vol%", "measured", SAFETY,
         "Lower flammability limit in air.", (0.1, 30.0)),
    Task("UFL", "vol%", "measured", SAFETY,
         "Upper flammability limit in air.", (1.0, 100.0)),
    Task("RON", "-", "measured", ("Florian-Liming", "CombustDB"),
         "Research octane number.", (-100.0, 150.0)),
    Task("MON", "-", "measured", ("Florian-Liming", "CombustDB"),
         "Motor octane number.", (-100.0, 150.0)),
    Task("cetane_number", "-", "measured", ("Florian-Liming", "CombustDB"),
         "Cetane number.", (-50.0, 150.0)),
]

TASKS: dict[str, Task] = {t.name: t for t in _TASKS}

PRESETS: dict[str, tuple[str, ...]] = {
    "reference10": ("parachor", "surface_tension_298", "dielectric_constant",
                    "hydration_free_energy", "hvap_298", "boiling_point", "refractive_index",
                    "density", "melting_point", "viscosity_298"),
    "all": tuple(TASKS),
}

SOURCES: tuple[str, ...] = tuple(sorted({s for t in _TASKS for s in t.sources}))


def resolve_tasks(tasks: str | Iterable[str]) -> list[str]:
    """Expand preset names and task names into task names, in the order of TASKS.

    Accepts a preset name, a task name, a comma-separated string, or a list of either.
    """
    items = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    chosen: set[str] = set()
    for raw in items:
        name = str(raw).strip()
        if name in PRESETS:
            chosen.update(PRESETS[name])
        elif name in TASKS:
            chosen.add(name)
        else:
            raise ValueError(
                f"unknown task or preset {name!r}; presets: {', '.join(PRESETS)}; "
                f"tasks: {', '.join(TASKS)}")
    if not chosen:
        raise ValueError("no task selected; presets: " + ", ".join(PRESETS))
    return [t for t in TASKS if t in chosen]


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_SOURCE_ALIASES = {"commonchemistry": "CAS Common Chemistry", "cas": "CAS Common Chemistry",
                   "nist": "WebBook", "nistwebbook": "WebBook", "serat": "DIPPR-Serat",
                   "iec": "IEC 60079-20-1", "nfpa": "NFPA 497"}


def resolve_sources(names: Iterable[str]) -> list[str]:
    """Map user-given source names (case, spaces and dashes ignored) to canonical names."""
    by_norm = {_norm(s): s for s in SOURCES}
    by_norm.update({k: v for k, v in _SOURCE_ALIASES.items()})
    out = []
    for name in names:
        key = _norm(str(name))
        if key not in by_norm:
            raise ValueError(f"unknown source {name!r}; valid sources: {', '.join(SOURCES)}")
        out.append(by_norm[key])
    return sorted(set(out))
