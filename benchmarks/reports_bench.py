"""(1) The weekly utilisation build for all regions against a single hand-written SQL aggregate,
and (2) the same week's build on the 2 M and the 10 M database.

The build is the reports feature's own public function (``utilisation_for_region`` for every
region), run in a plain session on the benchmark database, exactly as the weekly job calls it.
The floor is one SQL statement reading the same rows: every non-cancelled appointment of an active
infusion room starting in the report week or the week before (the build compares with the previous
week), summed per room and week with the completed/no-show counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks.common import (
    Results,
    captured_statements,
    explain_summary,
    median_seconds,
    ms,
    slowest,
)

FLOOR_SQL = """
SELECT a.room_id,
       a.starts_at >= (CAST(:monday AS date) + time '00:00') AT TIME ZONE l.timezone AS this_week,
       sum(extract(epoch FROM a.ends_at - a.starts_at) / 60) AS booked_minutes,
       sum(CASE WHEN a.status = 'no_show' THEN extract(epoch FROM a.ends_at - a.starts_at) / 60
                ELSE 0 END) AS no_show_minutes,
       count(*) FILTER (WHERE a.status = 'completed') AS completed,
       count(*) FILTER (WHERE a.status = 'no_show') AS no_shows
FROM appointment AS a
JOIN room AS r ON r.id = a.room_id
JOIN location AS l ON l.id = a.location_id
WHERE r.kind = 'infusion' AND r.active AND a.status <> 'cancelled'
  AND a.starts_at >= CAST(:monday AS date) - 8 AND a.starts_at < CAST(:monday AS date) + 8
  AND a.starts_at >= (CAST(:monday AS date) - 7 + time '00:00') AT TIME ZONE l.timezone
  AND a.starts_at < (CAST(:monday AS date) + 7 + time '00:00') AT TIME ZONE l.timezone
GROUP BY 1, 2
"""


def builder() -> Any | None:
    try:
        from opsadmin.reports.utilisation import utilisation_for_region
    except ImportError:
        return None
    return utilisation_for_region


def build_all_regions(session: Any, week: str) -> int:
    """Build the week's utilisation of every region; return how many regions were built."""
    from opsadmin.locations.models import Region

    build = builder()
    codes = list(session.scalars(sa.select(Region.code).order_by(Region.code)))
    for code in codes:
        build(session, week, code)
    session.rollback()
    return len(codes)


def floor(session: Any, week: str) -> int:
    from opsadmin.reports.weeks import parse_week

    rows = session.execute(sa.text(FLOOR_SQL), {"monday": parse_week(week)}).all()
    session.rollback()
    return len(rows)


def time_build(engine: sa.Engine, week: str, repeat: int) -> tuple[float, float, list]:
    """Median seconds of the build and of the floor, and the build's statements (one run)."""
    with Session(engine) as session:
        build_seconds = median_seconds(lambda: build_all_regions(session, week), repeat)
        floor_seconds = median_seconds(lambda: floor(session, week), repeat)
        with captured_statements(engine) as statements:
            build_all_regions(session, week)
    return build_seconds, floor_seconds, statements


def week_rows(engine: sa.Engine, week: str) -> int:
    from opsadmin.reports.weeks import parse_week

    monday = parse_week(week)
    with engine.connect() as conn:
        return conn.scalar(
            sa.text("SELECT count(*) FROM appointment WHERE starts_at >= :s AND starts_at < :e"),
            {"s": monday - dt.timedelta(days=8), "e": monday + dt.timedelta(days=8)},
        )


def measure(results: Results, engines: dict[str, sa.Engine], week: str, repeat: int) -> None:
    """Fill section 1 (and 2 when a 10 M app is given) of the results."""
    if builder() is None:
        results.notes.append(
            "Utilisation builder not found (opsadmin.reports.utilisation): skipped."
        )
        return
    timings = {}
    for label, engine in engines.items():
        build_s, floor_s, statements = time_build(engine, week, repeat)
        timings[label] = build_s
        section = f"1 report build ({label})"
        rows = week_rows(engine, week)
        results.add(section, f"utilisation {week}, all 10 regions", ms(build_s),
                    note=f"{len(statements)} statements; {rows:,} appointments in the 2-week window")  # fmt: skip
        results.add(section, "floor: one SQL aggregate, same rows", ms(floor_s))
        results.add(section, "build / floor", f"{build_s / floor_s:.2f}×", "≤ 2.0×",
                    build_s / floor_s <= 2.0)  # fmt: skip
        _explain(results, engine, week, statements, label)
    if len(timings) == 2:
        (small, small_s), (large, large_s) = timings.items()
        ratio = large_s / small_s
        results.add("2 cost follows the week", f"build at {large} / build at {small}", f"{ratio:.2f}",
                    "≤ 1.3", ratio <= 1.3)  # fmt: skip


def _explain(results: Results, engine: sa.Engine, week: str, statements: list, label: str) -> None:
    if engine.dialect.name != "postgresql":
        return
    worst = slowest(statements)
    if worst is not None:
        summary = explain_summary(engine, worst)
        results.explains.append((f"report build ({label}): its slowest statement", summary))
    with Session(engine) as session, captured_statements(engine) as floor_statements:
        floor(session, week)
    if floor_statements:
        summary = explain_summary(engine, floor_statements[0])
        results.explains.append((f"floor aggregate ({label})", summary))
