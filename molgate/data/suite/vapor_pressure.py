"""Vapour pressure of the liquid at 298.15 K (log10 Pa) from Antoine, Wagner, DIPPR-101 and VDI
fits, each only where 298.15 K lies inside its stated range."""
from __future__ import annotations

import math


from chemicals.dippr import EQ101
from chemicals.vapor_pressure import Antoine, TRC_Antoine_extended, Wagner, Wagner_original

from .records import concat, evaluate, frame, inside
from .tables import column, read, safe_log10


def log10_psat_298(ctx):
    t = "log10_psat_298"
    parts = []

    def add(df, func, args, ok, source, **kw):
        parts.append(frame(df.index, safe_log10(evaluate(df, func, args, ok, **kw)), t, source,
                           "computed"))

    def ranged(df):
        return inside(column(df, "Tmin"), column(df, "Tmax"))

    df = read("Antoine Collection Poling.tsv")  # log10(Pa)
    add(df, Antoine, ["A", "B", "C"], ranged(df), "Poling")
    df = read("Antoine Extended Collection Poling.tsv")
    add(df, TRC_Antoine_extended, ["Tc", "to", "A", "B", "C", "n", "E", "F"], ranged(df),
        "Poling")
    df = read("Wagner Collection Poling.tsv")
    add(df, Wagner, ["Tc", "Pc", "A", "B", "C", "D"], ranged(df), "Poling")
    df = read("Wagner Original McGarry.tsv")  # valid from Tmin up to Tc
    add(df, Wagner_original, ["Tc", "Pc", "A", "B", "C", "D"],
        inside(column(df, "Tmin"), column(df, "Tc")), "McGarry")
    df = read("Table 2-8 Vapor Pressure of Inorganic and Organic Liquids.tsv")
    add(df, EQ101, ["C1", "C2", "C3", "C4", "C5"], ranged(df), "DIPPR")
    df = read("VDI PPDS Boiling temperatures at different pressures.tsv")
    add(df, Wagner, ["Tc", "Pc", "A", "B", "C", "D"], ctx.vdi_ok(df), "VDI")
    df = read("Landolt_antoine_V20.tsv")  # ln(Pa) Antoine fits
    add(df, Antoine, ["A", "B", "C"], ranged(df), "Landolt", base=math.e)
    df = read("webbook_constants.tsv")  # ln(Pa) Antoine fits
    ok = inside(column(df, "AntoineTmin"), column(df, "AntoineTmax"))
    add(df, Antoine, ["AntoineA", "AntoineB", "AntoineC"], ok, "WebBook", base=math.e)
    return concat(parts)


PRODUCERS = {"log10_psat_298": log10_psat_298}
