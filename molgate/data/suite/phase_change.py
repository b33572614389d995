"""Phase-change properties: melting and boiling points, enthalpies of fusion/vaporization/
sublimation, triple points."""
from __future__ import annotations


from chemicals.dippr import EQ106
from chemicals.phase_change import PPDS12

from .records import concat, evaluate, frame, from_column, inside
from .tables import column, read

CRC_ORG = "Physical Constants of Organic Compounds.csv"
CRC_INORG = "Physical Constants of Inorganic Compounds.csv"
WEBBOOK = "webbook_constants.tsv"
WIKIDATA = "wikidata_properties.tsv"
COMMON = "common_chemistry_data.tsv"


def melting_point(ctx):
    t = "melting_point"
    return concat([
        from_column("OpenNotebook Melting Points.tsv", "Tm", t, "Bradley", "measured"),
        from_column(CRC_ORG, "Tm", t, "CRC", "measured"),
        from_column(CRC_INORG, "Tm", t, "CRC", "measured"),
        from_column(COMMON, "Tm", t, "CAS Common Chemistry", "measured"),
        from_column(WEBBOOK, "Tm", t, "WebBook", "measured"),
        from_column(WIKIDATA, "Tm", t, "Wikidata", "measured"),
    ])


def boiling_point(ctx):
    t = "boiling_point"
    return concat([
        from_column(CRC_ORG, "Tb", t, "CRC", "measured"),
        from_column(CRC_INORG, "Tb", t, "CRC", "measured"),
        from_column(WEBBOOK, "Tb", t, "WebBook", "measured"),
        from_column(COMMON, "Tb", t, "CAS Common Chemistry", "measured"),
        from_column("Yaws Boiling Points.tsv", "Tb", t, "Yaws", "compiled"),
    ])


def hfus(ctx):
    return from_column("CRC Handbook Heat of Fusion.tsv", "Hfus", "hfus", "CRC", "measured", 1e-3)


def hvap_Tb(ctx):
    return from_column("CRC Handbook Heat of Vaporization.tsv", "HvapTb", "hvap_Tb", "CRC",
                       "measured", 1e-3)


def hvap_298(ctx):
    t = "hvap_298"
    perry = read("Table 2-150 Heats of Vaporization of Inorganic and Organic Liquids.tsv")
    perry_ok = inside(column(perry, "Tmin"), column(perry, "Tmax"))
    vdi = read("VDI PPDS Enthalpies of vaporization.tsv")
    return concat([
        from_column("CRC Handbook Heat of Vaporization.tsv", "Hvap298", t, "CRC", "measured", 1e-3),
        from_column("Ghazerati Appendix Vaporization Enthalpy.tsv", "Hvap298", t, "Gharagheizi",
                    "measured", 1e-3),
        frame(perry.index, 1e-3 * evaluate(perry, EQ106, ["Tc", "C1", "C2", "C3", "C4"],
                                           perry_ok), t, "DIPPR", "computed"),
        frame(vdi.index, 1e-3 * evaluate(vdi, PPDS12, ["Tc", "A", "B", "C", "D", "E"],
                                         ctx.vdi_ok(vdi)), t, "VDI", "computed"),
    ])


def hsub(ctx):
    t = "hsub"
    return concat([
        from_column("Ghazerati Appendix Sublimation Enthalpy.tsv", "Hsub", t, "Gharagheizi",
                    "measured", 1e-3),
        from_column(WEBBOOK, "Hsub", t, "WebBook", "measured", 1e-3),
    ])


def triple_point_T(ctx):
    t = "triple_point_T"
    return concat([
        from_column("Staveley 1981.tsv", "Tt", t, "Staveley", "measured"),
        from_column(WEBBOOK, "Tt", t, "WebBook", "measured"),
        from_column("heos_constants.tsv", "Tt", t, "HEOS", "compiled"),
    ])


PRODUCERS = {f.__name__: f for f in (melting_point, boiling_point, hfus, hvap_Tb, hvap_298,
                                      hsub, triple_point_T)}
