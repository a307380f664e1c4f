"""(7) The wave's new work on the booking path, each beside its floor in the same run.

In-process, on the benchmark database, as the API and jobs call them: ``course_options`` (the
earliest course for an approved referral) against one SQL read of its site's bookings over the
options window; the at-risk judging of a closure over the busiest future site-day
(``risk.preview_impact``: flush, judge, store nothing) against one SQL read of that site-day's
bookings, at 2 M and at 10 M rows when the 10 M database exists; the events feed
(``events_after``, a page of 100 and its documents) against the same keyset SELECT; the forecast
(``forecast_for_region`` for every region) against one aggregate of the booked minutes it reads.
Median of ``repeat`` runs after a warm-up; statements counted on one run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks.common import Results, captured_statements, median_seconds, ms

SECTION = "7 wave (issue 16)"
REFERRALS = 5


def measure(results: Results, engines: dict[str, sa.Engine], week: str, repeat: int) -> None:
    """Inside an app built over the main database: its session hooks (audit, events, at-risk
    judging, the cache token) are what the measured functions run with in production."""
    from opsadmin.app import create_app

    labels = list(engines)
    main = engines[labels[0]]
    url = main.url.render_as_string(hide_password=False)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "benchmark-only", "TESTING": True}
    )
    with app.app_context():
        _measure(results, engines, main, week, repeat)


def _measure(results: Results, engines: dict[str, sa.Engine], main: sa.Engine, week: str,
             repeat: int) -> None:  # fmt: skip
    for name, step in (
        ("course-options", lambda: _course_options(results, main, week, repeat)),
        ("at-risk", lambda: _at_risk(results, engines, repeat)),
        ("events feed", lambda: _events(results, main, repeat)),
        ("forecast", lambda: _forecast(results, main, week, repeat)),
    ):
        try:
            step()
        except Exception as error:  # a missing feature is reported, the others still run
            results.notes.append(f"{SECTION} {name} failed: {type(error).__name__}: {error}")
            print(f"  {name} failed: {error!r}")


def _pair(results: Results, name: str, value_s: float, floor_s: float, statements: int,
          note: str = "") -> None:  # fmt: skip
    results.add(SECTION, name, ms(value_s), note=f"{statements} statements; {note}".strip("; "))
    results.add(SECTION, f"{name}: floor (one SQL statement, same rows)", ms(floor_s))
    results.add(SECTION, f"{name} / floor", f"{value_s / floor_s:.1f}×" if floor_s else "—")


def _timed(engine: sa.Engine, action, repeat: int) -> tuple[float, int]:
    with Session(engine) as session:
        seconds = median_seconds(lambda: _rolled_back(session, action), repeat)
        with captured_statements(engine) as statements:
            _rolled_back(session, action)
    return seconds, len(statements)


def _rolled_back(session: Session, action) -> Any:
    try:
        return action(session)
    finally:
        session.rollback()


# -- course options ------------------------------------------------------------------------------
def _course_options(results: Results, engine: sa.Engine, week: str, repeat: int) -> None:
    from opsadmin.bookings.courses import OPTIONS_WINDOW_DAYS, course_options
    from opsadmin.reports.weeks import parse_week

    monday = parse_week(week)
    with engine.connect() as conn:
        referrals = conn.execute(
            sa.text("SELECT id, treatment_location_id FROM referral WHERE status IN "
                    "('approved', 'in_treatment') AND treatment_location_id IS NOT NULL "
                    "ORDER BY id LIMIT :n"), {"n": REFERRALS},
        ).all()  # fmt: skip
    if not referrals:
        results.notes.append(f"{SECTION}: no approved referral with a treatment site: skipped.")
        return
    now = dt.datetime.combine(monday, dt.time(), dt.UTC)

    def build(session: Session) -> None:
        for referral_id, _site in referrals:
            try:
                course_options(session, referral_id, start_day=monday, sessions=3, now=now)
            except Exception as error:  # no course fits: still the whole search
                if type(error).__name__ != "Conflict":
                    raise

    def floor(session: Session) -> None:
        for _id, site in referrals:
            session.execute(
                sa.text("SELECT room_id, staff_id, starts_at, ends_at FROM appointment "
                        "WHERE location_id = :site AND status <> 'cancelled' "
                        "AND starts_at >= :a AND starts_at < :b"),
                {"site": site, "a": monday, "b": monday + dt.timedelta(days=OPTIONS_WINDOW_DAYS)},
            ).all()  # fmt: skip

    seconds, statements = _timed(engine, build, repeat)
    floor_s, _ = _timed(engine, floor, repeat)
    _pair(results, f"course-options, {len(referrals)} referrals, 3 sessions, from {monday}",
          seconds, floor_s, statements)  # fmt: skip


# -- at-risk judging of a closure ---------------------------------------------------------------
BUSIEST_FUTURE_DAY = """
SELECT a.location_id, CAST(a.starts_at AT TIME ZONE l.timezone AS date) AS day, count(*) AS n
FROM appointment a JOIN location l ON l.id = a.location_id
WHERE a.starts_at >= now() + interval '1 day' AND a.status IN ('booked', 'checked_in')
  AND a.external_id NOT LIKE 'BENCH-%'
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1"""


def _at_risk(results: Results, engines: dict[str, sa.Engine], repeat: int) -> None:
    from opsadmin.bookings import risk
    from opsadmin.locations.models import LocationClosure

    labels = list(engines)
    with engines[labels[0]].connect() as conn:
        found = conn.execute(sa.text(BUSIEST_FUTURE_DAY)).first()
    if found is None:
        results.notes.append(f"{SECTION}: no future bookings: at-risk judging skipped.")
        return
    location_id, day, count = found

    def judge(session: Session) -> int:
        session.add(LocationClosure(location_id=location_id, starts_on=day, ends_on=day,
                                    reason="benchmark"))  # fmt: skip
        return len(risk.preview_impact(session).at_risk)

    def floor(session: Session) -> None:
        session.execute(
            sa.text("SELECT a.id, a.room_id, a.staff_id, a.starts_at, a.ends_at FROM appointment a "
                    "JOIN location l ON l.id = a.location_id WHERE a.location_id = :site "
                    "AND a.status IN ('booked', 'checked_in') "
                    "AND a.starts_at >= (CAST(:day AS date) + time '00:00') AT TIME ZONE l.timezone "
                    "AND a.starts_at < (CAST(:day AS date) + 1 + time '00:00') AT TIME ZONE l.timezone"),
            {"site": location_id, "day": day},
        ).all()  # fmt: skip

    timings = {}
    for label, engine in engines.items():
        with Session(engine) as session:
            at_risk = _rolled_back(session, judge)
        seconds, statements = _timed(engine, judge, repeat)
        floor_s, _ = _timed(engine, floor, repeat)
        timings[label] = seconds
        _pair(results, f"at-risk judging of a closure, busiest site-day ({label})", seconds,
              floor_s, statements, f"site {location_id} on {day}: {count} bookings, "
              f"{at_risk} judged at risk")  # fmt: skip
    if len(timings) == 2:
        (small, small_s), (large, large_s) = timings.items()
        ratio = large_s / small_s
        results.add(SECTION, f"at-risk judging at {large} / at {small}", f"{ratio:.2f}", "≤ 1.2",
                    ratio <= 1.2)  # fmt: skip
    else:
        results.add(SECTION, "at-risk judging at 10 M / at 2 M", "skipped", "≤ 1.2",
                    note="no 10 M database in this run (--skip-10m)")  # fmt: skip


# -- the events feed ----------------------------------------------------------------------------
def _events(results: Results, engine: sa.Engine, repeat: int) -> None:
    from opsadmin.events.service import events_after

    with engine.connect() as conn:
        total, last = conn.execute(
            sa.text("SELECT count(*), coalesce(max(id), 0) FROM event")
        ).one()
    after = max(0, last - 150)

    def feed(session: Session) -> int:
        rows, _cursor = events_after(session, after, 100)
        return len([row.as_document() for row in rows])

    def floor(session: Session) -> None:
        session.execute(
            sa.text("SELECT id, type, occurred_at, data FROM event WHERE id > :after "
                    "ORDER BY id LIMIT 100"), {"after": after},
        ).all()  # fmt: skip

    seconds, statements = _timed(engine, feed, repeat)
    floor_s, _ = _timed(engine, floor, repeat)
    _pair(results, "events feed, a page of 100 near the end", seconds, floor_s, statements,
          f"{total:,} events in the table")  # fmt: skip


# -- the forecast -------------------------------------------------------------------------------
def _forecast(results: Results, engine: sa.Engine, week: str, repeat: int) -> None:
    from opsadmin.reports.forecast import forecast_for_region
    from opsadmin.reports.weeks import parse_week

    with engine.connect() as conn:
        regions = list(conn.scalars(sa.text("SELECT code FROM region ORDER BY code")))
    monday = parse_week(week)

    def build(session: Session) -> None:
        for code in regions:
            forecast_for_region(session, code, weeks=4, first=week)

    def floor(session: Session) -> None:
        session.execute(
            sa.text("SELECT a.location_id, date_trunc('week', a.starts_at) AS wk, "
                    "sum(extract(epoch FROM a.ends_at - a.starts_at) / 60) "
                    "FROM appointment a JOIN room r ON r.id = a.room_id "
                    "WHERE r.kind = 'infusion' AND a.status <> 'cancelled' "
                    "AND a.starts_at >= CAST(:a AS date) - 1 AND a.starts_at < CAST(:a AS date) + 29 "
                    "GROUP BY 1, 2"), {"a": monday},
        ).all()  # fmt: skip

    seconds, statements = _timed(engine, build, repeat)
    floor_s, _ = _timed(engine, floor, repeat)
    _pair(results, f"forecast, all {len(regions)} regions, 4 weeks from {week}", seconds, floor_s,
          statements)  # fmt: skip
