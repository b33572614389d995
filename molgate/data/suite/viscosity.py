"""Liquid viscosity at 298.15 K, regressed as log10(mPa*s).

The Viswanath-Natarajan 2-term fits (2-3x too low) and 2-term exponential fits (broken rows)
are left out; the 3-term and Dutt-Prasad tables store log10 of cP, i.e. of mPa*s.
"""
from __future__ import annotations


from chemicals.dippr import EQ101
from chemicals.viscosity import PPDS9, Viswanath_Natarajan_3

from .records import concat, evaluate, frame, inside
from .tables import column, read, safe_log10


def viscosity_298(ctx):
    t = "viscosity_298"
    parts = []
    for key, source in (("Viswanath Natarajan Dynamic 3 term.tsv", "Viswanath-Natarajan"),
                        ("Dutt Prasad 3 term.tsv", "Dutt-Prasad")):
        df = read(key)
        ok = inside(column(df, "Tmin"), column(df, "Tmax"))
        mpas = evaluate(df, Viswanath_Natarajan_3, ["A", "B", "C"], ok)  # coefficients in cP
        parts.append(frame(df.index, safe_log10(mpas), t, source, "computed"))
    perry = read("Table 2-313 Viscosity of Inorganic and Organic Liquids.tsv")
    ok = inside(column(perry, "Tmin"), column(perry, "Tmax"))
    pas = evaluate(perry, EQ101, ["C1", "C2", "C3", "C4", "C5"], ok)
    parts.append(frame(perry.index, safe_log10(1e3 * pas), t, "DIPPR", "computed"))
    vdi = read("VDI PPDS Dynamic viscosity of saturated liquids polynomials.tsv")
    pas = evaluate(vdi, PPDS9, ["A", "B", "C", "D", "E"], ctx.vdi_ok(vdi))
    parts.append(frame(vdi.index, safe_log10(1e3 * pas), t, "VDI", "computed"))
    return concat(parts)


PRODUCERS = {"viscosity_298": viscosity_298}
