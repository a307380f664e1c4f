"""What every measurement shares: the figure record, timing, statement capture and EXPLAIN summaries."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event


@dataclass
class Figure:
    """One line of the results table: a measured value against its target (met, missed, or n/a)."""

    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: "—"}[self.met]


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    explains: list[tuple[str, str]] = field(default_factory=list)  # (what, plan summary)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        print(
            f"  {figure.section} | {figure.name}: {figure.value} {figure.target} {figure.verdict}"
        )
        return figure


def median_seconds(action: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """The median wall time of ``action`` over ``repeat`` runs, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Statement:
    sql: str
    parameters: Any
    seconds: float


@contextmanager
def captured_statements(engine: sa.Engine) -> Iterator[list[Statement]]:
    """Every statement the engine sends while the block runs, with its parameters and duration."""
    found: list[Statement] = []
    started: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - started.pop(id(cursor), time.perf_counter())
        found.append(Statement(statement, parameters, elapsed))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


PLAN_NODE = re.compile(r"(Seq Scan|Index Scan|Index Only Scan|Bitmap \w+ Scan|Nested Loop|Hash Join"
                       r"|Merge Join|Sort|Aggregate|HashAggregate|GroupAggregate|Limit|Gather)")  # fmt: skip


def explain_summary(engine: sa.Engine, statement: Statement, max_nodes: int = 8) -> str:
    """EXPLAIN ANALYZE of a captured statement, cut to its plan nodes and execution time."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, FORMAT TEXT) " + statement.sql, statement.parameters)
        lines = [row[0] for row in cursor.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    nodes = [_short(line) for line in lines if PLAN_NODE.search(line.split("(")[0])]
    # The top node, then the scans (what an index changes), then the rest, up to max_nodes.
    scans = [node for node in nodes[1:] if "Scan" in node]
    others = [node for node in nodes[1:] if "Scan" not in node]
    timing = [line.strip() for line in lines if line.startswith("Execution Time")]
    return "; ".join((nodes[:1] + scans + others)[:max_nodes] + timing)


def _short(line: str) -> str:
    text = line.strip().removeprefix("->").strip()
    # Keep the node and its actual rows/time, drop the planner's cost estimate.
    text = re.sub(r"\(cost=[^)]*\)\s*", "", text)
    return re.sub(r"\s+", " ", text)


def slowest(statements: list[Statement]) -> Statement | None:
    return max(statements, key=lambda s: s.seconds, default=None)
