"""Which bookings a proposed change would put at risk, before it is saved (the console asks to
confirm when the answer is not empty).

Only future (``starts_at`` ≥ now) appointments that are ``booked`` or ``checked_in`` can be put at
risk: the past happened, and cancelled, completed and no-show appointments hold nothing. Each
function takes the proposed values (a form's populated, not yet flushed object does) and answers
the appointments the change would leave refused, oldest first, with location, room and clinician
loaded for display.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from opsadmin.bookings.board import pack_lanes
from opsadmin.bookings.models import Appointment
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date, local_datetime
from opsadmin.rooms.models import Room
from opsadmin.staff.eligibility import eligibility_grid
from opsadmin.staff.models import Credential, StaffMember

LIVE_STATUSES = ("booked", "checked_in")


def _live(now: dt.datetime | None, *conditions: sa.ColumnElement[bool]) -> sa.Select:
    return (
        sa.select(Appointment)
        .where(
            Appointment.starts_at >= (now or dt.datetime.now(dt.UTC)),
            Appointment.status.in_(LIVE_STATUSES),
            *conditions,
        )
        .options(
            joinedload(Appointment.location),
            joinedload(Appointment.room),
            joinedload(Appointment.staff),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )


def _run(session: Session, query: sa.Select) -> list[Appointment]:
    # The form's populated object must not be flushed by this read (it is not checked yet).
    with session.no_autoflush:
        return list(session.scalars(query).unique())


def hit_by_location_closure(
    session: Session,
    location: Location,
    starts_on: dt.date,
    ends_on: dt.date,
    now: dt.datetime | None = None,
) -> list[Appointment]:
    """Live appointments at ``location`` on its local dates ``starts_on``..``ends_on``."""
    starts = local_datetime(location, starts_on, dt.time(0, 0))
    ends = local_datetime(location, ends_on + dt.timedelta(days=1), dt.time(0, 0))
    return _run(
        session,
        _live(
            now,
            Appointment.location_id == location.id,
            Appointment.starts_at < ends,
            Appointment.ends_at > starts,
        ),
    )


def hit_by_room_closure(
    session: Session,
    room_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    now: dt.datetime | None = None,
) -> list[Appointment]:
    """Live appointments in the room overlapping [starts_at, ends_at) (half-open)."""
    return _run(
        session,
        _live(
            now,
            Appointment.room_id == room_id,
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
        ),
    )


def hit_by_room_change(
    session: Session, room: Room, now: dt.datetime | None = None
) -> list[Appointment]:
    """Live appointments the room, as proposed, can no longer hold: all of them when it goes out
    of service, else those that no longer find a chair at the (lowered) capacity — the later
    arrivals, as the day board packs them."""
    if room.id is None:
        return []
    booked = _run(session, _live(now, Appointment.room_id == room.id))
    if not room.active:
        return booked
    lanes = pack_lanes(booked, max(room.capacity or 1, 1))
    over = {a.id for lane in lanes if lane.kind == "over_capacity" for a in lane.blocks}
    return [a for a in booked if a.id in over]


def hit_by_credential_change(
    session: Session, credential: Credential, now: dt.datetime | None = None
) -> list[Appointment]:
    """Live appointments of the credential's holder that the credential, as proposed, leaves
    them not eligible for (judged with the holder's other credentials as they stand)."""
    if credential.id is None or credential.staff is None:
        return []  # a new credential can only make its holder eligible for more
    return hit_by_staff_change(session, credential.staff, now)


def hit_by_staff_change(
    session: Session, staff: StaffMember, now: dt.datetime | None = None
) -> list[Appointment]:
    """Live appointments of ``staff`` that they, as proposed (active, the locations they work at,
    their credentials as edited in the session), are no longer eligible for."""
    if staff.id is None:
        return []
    booked = _run(session, _live(now, Appointment.staff_id == staff.id))
    if not booked:
        return []
    judged = _judge(session, staff, booked)
    return [a for a in booked if not judged[_question(a)]]


def _question(appointment: Appointment) -> tuple[int, str, dt.date]:
    return (
        appointment.location_id,
        appointment.kind,
        local_date(appointment.location, appointment.starts_at),
    )


def _judge(
    session: Session, staff: StaffMember, booked: Iterable[Appointment]
) -> dict[tuple[int, str, dt.date], bool]:
    booked = list(booked)
    assigned = {location.id for location in staff.locations}
    # The edited credential is in the session's identity map: the rules read its proposed values.
    with session.no_autoflush:
        grid = eligibility_grid(
            session,
            {(staff, a.location) for a in booked if a.location_id in assigned},
            {a.kind for a in booked},
            {local_date(a.location, a.starts_at) for a in booked},
        )
    return {
        _question(a): a.location_id in assigned
        and grid[(staff.id, a.location_id, a.kind, local_date(a.location, a.starts_at))].eligible
        for a in booked
    }
