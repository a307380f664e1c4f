"""The demo's bookings at risk, so a newcomer sees the feature (Bookings → Bookings at risk).

Two facts of an operation, added once to the seeded chain: a burst pipe closes Greencastle on a
day with bookings, and a physician's state licence lapses before the infusions booked after it.
Both are ordinary writes, so the bookings-at-risk hook judges the bookings they touch when the
caller commits; nothing here decides a risk itself.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.bookings.models import Appointment
from opsadmin.locations.models import Location, LocationClosure
from opsadmin.locations.service import local_date
from opsadmin.staff.models import Credential, StaffMember

CLOSURE_REASON = "Burst pipe (demo: bookings at risk)"
CLOSED_SITE = "GRN"
LAPSE_SITE = "IND"


def add_bookings_at_risk(session: Session, now: dt.datetime) -> dict[str, int]:
    """Close a booked day at GRN and let a physician's licence lapse before their last booked
    IND infusion; once (a second run finds the closure and adds nothing)."""
    if session.scalar(
        sa.select(LocationClosure.id).where(LocationClosure.reason == CLOSURE_REASON)
    ):
        return {}
    session.flush()
    added = {"at_risk_closures": 0, "lapsed_licences": 0}
    grn = session.scalar(sa.select(Location).where(Location.code == CLOSED_SITE))
    day = _booked_day(session, grn, now, at_least=dt.timedelta(days=2))
    if day is not None:
        grn.closures.append(LocationClosure(starts_on=day, ends_on=day, reason=CLOSURE_REASON))
        added["at_risk_closures"] += 1
    if _lapse_a_licence(session, now):
        added["lapsed_licences"] += 1
    session.flush()
    return added


def _future_booked(location: Location, now: dt.datetime, at_least: dt.timedelta) -> sa.Select:
    return sa.select(Appointment).where(
        Appointment.location_id == location.id,
        Appointment.status == "booked",
        Appointment.starts_at >= now + at_least,
    )


def _booked_day(
    session: Session, location: Location, now: dt.datetime, at_least: dt.timedelta
) -> dt.date | None:
    """The first local day with bookings ``at_least`` ahead that no closure covers yet."""
    first = session.scalars(
        _future_booked(location, now, at_least).order_by(Appointment.starts_at)
    ).first()
    if first is None:
        return None
    day = local_date(location, first.starts_at)
    closed = any(c.starts_on <= day <= c.ends_on for c in location.closures)
    return None if closed else day


def _lapse_a_licence(session: Session, now: dt.datetime) -> bool:
    """A physician's licence for IND's state ends the day before their last booked infusion there."""
    ind = session.scalar(sa.select(Location).where(Location.code == LAPSE_SITE))
    last = session.scalars(
        _future_booked(ind, now, dt.timedelta(days=3))
        .join(StaffMember, StaffMember.id == Appointment.staff_id)
        .where(Appointment.kind == "infusion", StaffMember.role == "physician")
        .order_by(Appointment.starts_at.desc())
    ).first()
    if last is None:
        return False
    licence = session.scalar(
        sa.select(Credential).where(
            Credential.staff_id == last.staff_id,
            Credential.kind == "state_license",
            Credential.state == ind.state,
        )
    )
    if licence is None:
        return False
    licence.expires_on = local_date(ind, last.starts_at) - dt.timedelta(days=1)
    return True
