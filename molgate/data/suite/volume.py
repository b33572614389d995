"""Densities: `density` (~20 C, solid or liquid, measured) and `liquid_density_298` (saturated
liquid from DIPPR-105 / VDI PPDS fits at 298.15 K)."""
from __future__ import annotations

import numpy as np
from chemicals.dippr import EQ105
from chemicals.volume import volume_VDI_PPDS

from .records import concat, evaluate, frame, from_column, inside
from .tables import column, read


def density(ctx):
    t = "density"
    parts = [
        from_column("Physical Constants of Organic Compounds.csv", "rho", t, "CRC", "measured",
                    1e-3),  # kg/m3 -> g/cm3
        from_column("Physical Constants of Inorganic Compounds.csv", "rho", t, "CRC",
                    "measured", 1e-3),
    ]
    cc = read("common_chemistry_data.tsv")
    mw = ctx.mw(cc.index)  # g/mol
    with np.errstate(divide="ignore", invalid="ignore"):  # liquid molar volume, m3/mol
        rho = mw / (column(cc, "Vml") * 1e6)
    parts.append(frame(cc.index, rho, t, "CAS Common Chemistry", "measured"))
    return concat(parts)


def liquid_density_298(ctx):
    t = "liquid_density_298"
    perry = read("Perry Parameters 105.tsv")
    ok = inside(column(perry, "Tmin"), column(perry, "Tmax"))
    molar = evaluate(perry, EQ105, ["C1", "C2", "C3", "C4"], ok)  # mol/m3
    vdi = read("VDI PPDS Density of Saturated Liquids.tsv")
    kg_m3 = evaluate(vdi, volume_VDI_PPDS, ["Tc", "rhoc", "A", "B", "C", "D"], ctx.vdi_ok(vdi))
    return concat([
        frame(perry.index, molar * ctx.mw(perry.index) * 1e-6, t, "DIPPR", "computed"),
        frame(vdi.index, kg_m3 * 1e-3, t, "VDI", "computed"),
    ])


PRODUCERS = {"density": density, "liquid_density_298": liquid_density_298}
