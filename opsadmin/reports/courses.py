"""Treatment course figures per treatment site over the last 90 days, for the follow-up digest and
the dashboard (one function, so the two cannot disagree).

A course is a referral's infusions at its treatment site. Over the window before ``as_of``:

- **started**: its first completed infusion falls in the window;
- **completed**: the referral is ``completed`` and its last completed infusion falls in the window;
- **broken off**: the referral is ``in_treatment`` with no booked or checked-in infusion ahead, and
  its last completed infusion was more than 14 days before ``as_of`` (and in the window);
- **median sessions before a break**: the median number of completed infusions of the broken-off.

Everything is computed by the database (two queries, whatever the number of referrals); the median
with window functions, which SQLite and PostgreSQL both have.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.bookings.models import Appointment
from opsadmin.locations.models import Location
from opsadmin.referrals.models import Referral

WINDOW_DAYS = 90
BREAK_AFTER_DAYS = 14
ACTIVE = ("booked", "checked_in")


def _courses(as_of: dt.datetime) -> sa.Subquery:
    """One row per referral with infusions: its site and whether its course started, completed
    or broke off in the window, with its completed sessions."""
    since = as_of - dt.timedelta(days=WINDOW_DAYS)
    done = Appointment.status == "completed"
    per_referral = (
        sa.select(
            Appointment.referral_id.label("referral_id"),
            sa.func.min(sa.case((done, Appointment.starts_at))).label("first_done"),
            sa.func.max(sa.case((done, Appointment.starts_at))).label("last_done"),
            sa.func.sum(sa.case((done, 1), else_=0)).label("sessions"),
            sa.func.sum(
                sa.case(
                    (sa.and_(Appointment.status.in_(ACTIVE), Appointment.starts_at >= as_of), 1),
                    else_=0,
                )
            ).label("ahead"),
        )
        .where(Appointment.kind == "infusion", Appointment.referral_id.is_not(None))
        .group_by(Appointment.referral_id)
        .subquery()
    )
    c = per_referral.c
    in_window = sa.and_(c.last_done >= since, c.last_done < as_of)
    broken = sa.and_(
        Referral.status == "in_treatment",
        c.ahead == 0,
        in_window,
        c.last_done < as_of - dt.timedelta(days=BREAK_AFTER_DAYS),
    )
    return (
        sa.select(
            Referral.treatment_location_id.label("location_id"),
            sa.case((sa.and_(c.first_done >= since, c.first_done < as_of), 1), else_=0).label(
                "started"
            ),
            sa.case((sa.and_(Referral.status == "completed", in_window), 1), else_=0).label(
                "completed"
            ),
            sa.case((broken, 1), else_=0).label("broken_off"),
            c.sessions.label("sessions"),
        )
        .join(per_referral, c.referral_id == Referral.id)
        .subquery()
    )


def _median_before_break(session: Session, courses: sa.Subquery) -> dict[int, float]:
    broken = (
        sa.select(
            courses.c.location_id,
            courses.c.sessions,
            sa.func.row_number()
            .over(partition_by=courses.c.location_id, order_by=courses.c.sessions)
            .label("rank"),
            sa.func.count().over(partition_by=courses.c.location_id).label("total"),
        )
        .where(courses.c.broken_off == 1)
        .subquery()
    )
    # The middle row, or the two middle rows' mean: integer division picks them in both dialects.
    middle = sa.or_(
        broken.c.rank == (broken.c.total + 1) // 2, broken.c.rank == (broken.c.total + 2) // 2
    )
    rows = session.execute(
        sa.select(broken.c.location_id, sa.func.avg(broken.c.sessions))
        .where(middle)
        .group_by(broken.c.location_id)
    )
    return {location_id: float(median) for location_id, median in rows}


def course_figures(
    session: Session, as_of: dt.date, region_ids: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per site of the regions (all when None), by code: courses started, completed and broken off
    in the 90 days before ``as_of`` (midnight UTC, as the follow-up digest counts), and the median
    sessions before a break (None without a break)."""
    instant = dt.datetime.combine(as_of, dt.time(), dt.UTC)
    courses = _courses(instant)
    totals = {
        row.location_id: row
        for row in session.execute(
            sa.select(
                courses.c.location_id,
                sa.func.sum(courses.c.started).label("started"),
                sa.func.sum(courses.c.completed).label("completed"),
                sa.func.sum(courses.c.broken_off).label("broken_off"),
            ).group_by(courses.c.location_id)
        )
    }
    medians = _median_before_break(session, courses)
    sites = sa.select(Location.id, Location.code, Location.name).order_by(Location.code)
    if region_ids is not None:
        sites = sites.where(Location.region_id.in_(region_ids or {-1}))
    figures = []
    for location_id, code, name in session.execute(sites):
        row = totals.get(location_id)
        figures.append(
            {
                "location": code,
                "name": name,
                "started": int(row.started or 0) if row else 0,
                "completed": int(row.completed or 0) if row else 0,
                "broken_off": int(row.broken_off or 0) if row else 0,
                "median_sessions_before_break": medians.get(location_id),
            }
        )
    return figures
