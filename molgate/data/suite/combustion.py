"""Engine-fuel ratings: RON, MON, cetane number (experimental tables only; the ANN and
CombustDB prediction tables are never read)."""
from __future__ import annotations

from .records import concat, from_column


def _ratings(task: str, col: str, florian: str, combustdb: str):
    return concat([from_column(florian, col, task, "Florian-Liming", "measured"),
                   from_column(combustdb, col, task, "CombustDB", "measured")])


def RON(ctx):
    return _ratings("RON", "RON", "Florian_Liming_RON_experimental.tsv",
                    "Travis_Kessler_Combustdb_RON.tsv")


def MON(ctx):
    return _ratings("MON", "MON", "Florian_Liming_MON_experimental.tsv",
                    "Travis_Kessler_Combustdb_MON.tsv")


def cetane_number(ctx):
    return _ratings("cetane_number", "CETANE", "Florian_Liming_CETANE_experimental.tsv",
                    "Travis_Kessler_Combustdb_CETANE.tsv")


PRODUCERS = {f.__name__: f for f in (RON, MON, cetane_number)}
