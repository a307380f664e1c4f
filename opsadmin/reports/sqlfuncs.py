"""Portable SQL for interval arithmetic (LEAST/GREATEST, minutes or seconds between two
timestamps) and for a small table of integers handed over as one JSON parameter.

SQLite has no interval type (timestamps are text, julianday() turns them into days) and calls
LEAST/GREATEST the scalar MIN/MAX; PostgreSQL subtracts timestamps into intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
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


class seconds_between(FunctionElement):  # noqa: N801
    """Whole seconds from the first timestamp to the second (rounded)."""

    type = sa.BigInteger()
    inherit_cache = True


@compiles(seconds_between)
def _seconds(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = _two(element, compiler, **kw)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS BIGINT)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = _two(element, compiler, **kw)
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def json_rows(dialect: str, name: str, columns: Sequence[str]) -> sa.FromClause:
    """A table ``name`` of integer ``columns`` read from one JSON bound parameter, also ``name``.

    The rows travel as a single parameter (a JSON array of objects), so the statement's text
    never depends on how many rows there are: SQLAlchemy compiles it once and the driver binds one
    value, where a VALUES list costs a bound parameter (and its compilation) per cell.
    """
    rows = sa.bindparam(name, type_=sa.String())
    if dialect == "postgresql":
        function = sa.func.json_to_recordset(sa.cast(rows, postgresql.JSON()))
        typed = function.table_valued(*(sa.column(c, sa.BigInteger()) for c in columns))
        return typed.render_derived(name=name, with_types=True)
    each = sa.func.json_each(rows).table_valued("value")
    fields = [
        sa.cast(sa.func.json_extract(each.c.value, f"$.{c}"), sa.BigInteger()).label(c)
        for c in columns
    ]
    return sa.select(*fields).select_from(each).subquery(name)
