"""Thermal conductivity of the saturated liquid at 298.15 K (DIPPR-100, VDI PPDS polynomial)."""
from __future__ import annotations

from chemicals.dippr import EQ100

from .records import concat, evaluate, frame, inside
from .tables import column, read


def _vdi_poly(T, A, B, C, D, E):
    return A + T * (B + T * (C + T * (D + T * E)))


def thermal_conductivity_liquid_298(ctx):
    t = "thermal_conductivity_liquid_298"
    perry = read("Table 2-315 Thermal Conductivity of Inorganic and Organic Liquids.tsv")
    ok = inside(column(perry, "Tmin"), column(perry, "Tmax"))
    vdi = read("VDI PPDS Thermal conductivity of saturated liquids.tsv")
    return concat([
        frame(perry.index, evaluate(perry, EQ100, ["C1", "C2", "C3", "C4", "C5"], ok), t,
              "DIPPR", "computed"),
        frame(vdi.index, evaluate(vdi, _vdi_poly, ["A", "B", "C", "D", "E"], ctx.vdi_ok(vdi)),
              t, "VDI", "computed"),
    ])


PRODUCERS = {"thermal_conductivity_liquid_298": thermal_conductivity_liquid_298}
