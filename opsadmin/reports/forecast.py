"""The demand forecast: chair-minutes wanted in the weeks ahead against those available.

Per treatment location and ISO week:
- ``booked_minutes``: the infusions booked in the week (not cancelled), by their length;
- ``expected_minutes``: the sessions of approved, scheduled and in-treatment referrals not yet
  booked, × ``OPSADMIN_INFUSION_MINUTES``, spread from the first week at three a week;
- ``available_minutes``: counted by the utilisation report's own function;
- ``shortfall``: booked + expected above 90 % of available.

A fixed number of statements, whatever the number of referrals and appointments: the booked
minutes are one aggregate over the weeks (handed over as one JSON parameter, like the
utilisation report's slots), the unbooked sessions one aggregate grouped by (site, sessions left).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.bookings.models import Appointment
from opsadmin.config import setting
from opsadmin.db import UTCDateTime
from opsadmin.errors import NotFound
from opsadmin.locations.models import Location, Region
from opsadmin.referrals.models import Referral
from opsadmin.reports.sqlfuncs import json_rows, minutes_between, seconds_between
from opsadmin.reports.utilisation import available_by_week, week_bounds
from opsadmin.reports.weeks import shift_week, week_days, week_of

SESSIONS_PER_WEEK = 3
SHORTFALL_SHARE = 0.9
EXPECTING = ("approved", "treatment_scheduled", "in_treatment")
HELD = ("booked", "checked_in")
WEEK_COLUMNS = ("loc", "wk", "s", "e")


def infusion_minutes() -> int:
    return int(setting("OPSADMIN_INFUSION_MINUTES"))


def forecast_weeks(first: str, count: int) -> list[str]:
    return [shift_week(first, n) for n in range(count)]


def first_week_after(today: dt.date) -> str:
    """The forecast starts with the first whole week ahead: the ISO week after ``today``'s."""
    return week_of(today + dt.timedelta(days=7))


def _booked_query(dialect: str) -> sa.Select:
    """(location id, week number, minutes) of the non-cancelled infusions starting in each
    location's local weeks; parameters ``weeks`` (JSON), ``origin``, ``anchor`` and ``until``."""
    a = Appointment.__table__.c
    origin = sa.bindparam("origin", type_=UTCDateTime())
    weeks = json_rows(dialect, "weeks", WEEK_COLUMNS)
    start = seconds_between(origin, a.starts_at)
    return (
        sa.select(weeks.c.loc, weeks.c.wk, sa.func.sum(minutes_between(a.starts_at, a.ends_at)))
        .select_from(Appointment.__table__)
        .join(weeks, sa.and_(a.location_id == weeks.c.loc, start >= weeks.c.s, start < weeks.c.e))
        .where(
            a.kind == "infusion",
            a.status != "cancelled",
            a.starts_at >= sa.bindparam("anchor", type_=UTCDateTime()),
            a.starts_at < sa.bindparam("until", type_=UTCDateTime()),
        )
        .group_by(weeks.c.loc, weeks.c.wk)
    )


def booked_minutes(session: Session, sites: list[Any], weeks: list[str]) -> Counter:
    """{(location id, week): booked infusion minutes} (one statement)."""
    bounds = [
        week_bounds(site, week_days(week), n) for site in sites for n, week in enumerate(weeks)
    ]
    if not bounds:
        return Counter()
    anchor = min(start for _, _, (start, _) in bounds)
    rows = json.dumps(
        [
            {
                "loc": loc,
                "wk": n,
                "s": round((start - anchor).total_seconds()),
                "e": round((end - anchor).total_seconds()),
            }
            for loc, n, (start, end) in bounds
        ]
    )
    parameters = {
        "weeks": rows,
        "origin": anchor,
        "anchor": anchor,
        "until": max(end for _, _, (_, end) in bounds),
    }
    query = _booked_query(session.get_bind().dialect.name)
    found: Counter = Counter()
    for loc, n, minutes in session.execute(query, parameters):
        found[(loc, weeks[n])] += int(minutes or 0)
    return found


def unbooked_sessions(session: Session, location_ids: list[int]) -> list[tuple[int, int, int]]:
    """(treatment location id, sessions left unbooked, referrals) for the referrals expecting
    infusions: planned − completed − infusions booked and not yet held (one statement)."""
    if not location_ids:
        return []
    a = Appointment.__table__.c
    held = (
        sa.select(sa.func.count())
        .where(a.referral_id == Referral.id, a.kind == "infusion", a.status.in_(HELD))
        .scalar_subquery()
    )
    left = (Referral.planned_sessions - Referral.sessions_completed - held).label("left")
    per_referral = (
        sa.select(Referral.treatment_location_id.label("loc"), left)
        .where(
            Referral.status.in_(EXPECTING),
            Referral.treatment_location_id.in_(location_ids),
        )
        .subquery()
    )
    rows = session.execute(
        sa.select(per_referral.c.loc, per_referral.c.left, sa.func.count())
        .where(per_referral.c.left > 0)
        .group_by(per_referral.c.loc, per_referral.c.left)
    )
    return [(loc, int(left), int(count)) for loc, left, count in rows]


def expected_minutes(
    unbooked: list[tuple[int, int, int]], weeks: list[str], minutes: int
) -> Counter:
    """{(location id, week): minutes}: each referral's sessions left, three a week from the first."""
    found: Counter = Counter()
    for loc, left, referrals in unbooked:
        for n, week in enumerate(weeks):
            sessions = min(SESSIONS_PER_WEEK, max(0, left - SESSIONS_PER_WEEK * n))
            found[(loc, week)] += sessions * referrals * minutes
    return found


def forecast_for_region(
    session: Session, region_code: str, weeks: int = 4, first: str | None = None
) -> dict[str, Any]:
    """The region's chair demand for ``weeks`` ISO weeks from ``first`` (default: next week)."""
    region = session.execute(
        sa.select(Region.id, Region.code).where(Region.code == region_code)
    ).first()
    if region is None:
        raise NotFound(
            f"No region {region_code!r}.", errors={"region": [f"Unknown region {region_code!r}."]}
        )
    listed = forecast_weeks(first or first_week_after(dt.date.today()), weeks)
    sites, available = available_by_week(session, listed, Location.region_id == region.id)
    booked = booked_minutes(session, sites, listed)
    expected = expected_minutes(
        unbooked_sessions(session, [site.id for site in sites]), listed, infusion_minutes()
    )
    return {
        "region": region.code,
        "weeks": [
            {
                "week": week,
                "locations": [
                    _figures(site.code, booked, expected, available, (site.id, week))
                    for site in sites
                ],
            }
            for week in listed
        ],
    }


def _figures(code: str, booked: Counter, expected: Counter, available: dict, key) -> dict:
    wanted = booked[key] + expected[key]
    free = available.get(key, 0)
    return {
        "location": code,
        "booked_minutes": booked[key],
        "expected_minutes": expected[key],
        "available_minutes": free,
        "shortfall": wanted > SHORTFALL_SHARE * free,
    }
