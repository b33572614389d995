"""Surface tension at 298.15 K from fits whose stated range contains 298.15 K."""
from __future__ import annotations

from chemicals.dippr import EQ106
from chemicals.interface import Jasper, REFPROP_sigma

from .records import concat, evaluate, frame, inside
from .tables import column, read


def surface_tension_298(ctx):
    t = "surface_tension_298"
    jl = read("Jasper-Lange.tsv")
    mc = read("MuleroCachadinaParameters.tsv")
    vdi = read("VDI PPDS surface tensions.tsv")
    jl_ok = inside(column(jl, "Tmin"), column(jl, "Tmax"))
    mc_ok = inside(column(mc, "Tmin"), column(mc, "Tmax"))
    return concat([  # N/m -> mN/m
        frame(jl.index, 1e3 * evaluate(jl, Jasper, ["a", "b"], jl_ok), t, "Jasper-Lange",
              "computed"),
        frame(mc.index, 1e3 * evaluate(mc, REFPROP_sigma,
                                       ["Tc", "sigma0", "n0", "sigma1", "n1", "sigma2", "n2"],
                                       mc_ok), t, "Mulero-Cachadina", "computed"),
        frame(vdi.index, 1e3 * evaluate(vdi, EQ106, ["Tc", "A", "B", "C", "D", "E"],
                                        ctx.vdi_ok(vdi)), t, "VDI", "computed"),
    ])


PRODUCERS = {"surface_tension_298": surface_tension_298}
