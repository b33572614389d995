"""Flammability data: flash point, autoignition temperature, flammability limits (vol%)."""
from __future__ import annotations

from .records import concat, from_column

IEC = "IS IEC 60079-20-1 2010.tsv"
NFPA = "NFPA 497 2008.tsv"
WIKIDATA = "wikidata_properties.tsv"


def _standards(task: str, col: str, scale: float = 1.0):
    return [from_column(IEC, col, task, "IEC 60079-20-1", "measured", scale),
            from_column(NFPA, col, task, "NFPA 497", "measured", scale),
            from_column(WIKIDATA, col, task, "Wikidata", "measured", scale)]


def flash_point(ctx):
    t = "flash_point"
    return concat([from_column("DIPPR T_flash Serat.csv", "T_flash", t, "DIPPR-Serat", "measured"),
                   *_standards(t, "T_flash")])


def autoignition_T(ctx):
    return concat(_standards("autoignition_T", "T_autoignition"))


def LFL(ctx):
    return concat(_standards("LFL", "LFL", 100.0))  # mole fraction -> vol%


def UFL(ctx):
    return concat(_standards("UFL", "UFL", 100.0))


PRODUCERS = {f.__name__: f for f in (flash_point, autoignition_T, LFL, UFL)}
