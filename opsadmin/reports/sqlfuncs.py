"""Portable SQL for interval arithmetic: LEAST/GREATEST and minutes between two timestamps.

SQLite has no interval type (timestamps are text, julianday() turns them into days) and calls
LEAST/GREATEST the scalar MIN/MAX; PostgreSQL subtracts timestamps into intervals.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class least(FunctionElement):  # noqa: N801  (reads like the SQL function it is)
    inherit_cache = True


class greatest(FunctionElement):  # noqa: N801
    inherit_cache = True


class minutes_between(FunctionElement):  # noqa: N801
    """Whole minutes from the first timestamp to the second (rounded: times are whole minutes)."""

    type = sa.Integer()
    inherit_cache = True


@compiles(least)
def _least(element: Any, compiler: Any, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"MIN({compiler.process(element.clauses, **kw)})"


@compiles(greatest)
def _greatest(element: Any, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"MAX({compiler.process(element.clauses, **kw)})"


def _two(element: Any, compiler: Any, **kw: Any) -> tuple[str, str]:
    start, end = list(element.clauses)
    return compiler.process(start, **kw), compiler.process(end, **kw)


@compiles(minutes_between)
def _minutes(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = _two(element, compiler, **kw)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start})) / 60) AS INTEGER)"


@compiles(minutes_between, "sqlite")
def _minutes_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = _two(element, compiler, **kw)
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 1440) AS INTEGER)"
