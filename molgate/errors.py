"""Errors a user can act on: each names the file, row and column that caused it."""

from __future__ import annotations


class MolgateError(Exception):
    """Base class for errors that the CLI prints as one line and exits non-zero."""


class InputError(MolgateError):
    """Bad input data, located as precisely as we can.

    ``row`` is the 1-based data row (the first row after the header is row 1); for CSV files the
    message also gives the file line (header = line 1) so an editor can jump to it.
    """

    def __init__(self, message: str, file: str | None = None, row: int | None = None,
                 column: str | None = None, line: int | None = None):
        self.file, self.row, self.column, self.line = file, row, column, line
        self.reason = message
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__((", ".join(where) + ": " if where else "") + message)
