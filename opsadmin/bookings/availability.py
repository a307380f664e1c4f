"""Availability: the starts a booking could take at a location on a local day (DESIGN §6).

Starts are every 15 minutes from each opening interval's start, ending by that interval's close,
outside closures, in the active rooms suiting the kind; a start is listed only with at least one
free chair for the whole slot. Intervals come from ``locations.service.open_intervals``, which
converts local hours with the day's own offset, so a 23- or 25-hour day comes out right.

The day's room closures and appointments are loaded once (a bounded number of queries, never
one per slot); the overlap arithmetic is the booking service's own, so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from opsadmin.bookings.models import Appointment
from opsadmin.bookings.service import (
    ROOM_KIND_FOR,
    is_printable_id,
    max_overlap,
    overlapping,
)
from opsadmin.errors import InvalidInput, NotFound
from opsadmin.locations import service as locations
from opsadmin.locations.licensing import missing_registrations
from opsadmin.locations.models import Location
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.eligibility import eligible_staff
from opsadmin.staff.models import APPOINTMENT_KINDS, StaffMember

SLOT_STEP = dt.timedelta(minutes=15)
MAX_DURATION_MINUTES = 12 * 60

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Slot:
    room_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    free_chairs: int


@dataclass(frozen=True)
class Availability:
    location: Location
    date: dt.date
    kind: str
    duration: int
    slots: list[Slot] = field(default_factory=list)
    eligible_staff: list[StaffMember] = field(default_factory=list)


def availability(
    session: Session, location_code: str, day: dt.date, kind: str, duration: int
) -> Availability:
    """Free slots of ``duration`` minutes for a ``kind`` at the location on its local ``day``."""
    _check_arguments(kind, duration)
    location = _location(session, location_code)
    staff = eligible_staff(session, location.id, day, kind)
    answer = Availability(location, day, kind, duration, eligible_staff=staff)
    intervals = locations.open_intervals(location, day)
    if not location.active or not intervals:
        return answer
    if kind == "infusion" and missing_registrations(session, location, day):
        return answer
    rooms = _rooms(session, location, kind)
    window = (intervals[0][0], max(end for _, end in intervals))
    closures = _closures(session, rooms, window)
    booked = _appointments(session, rooms, window)
    length = dt.timedelta(minutes=duration)
    for start in _starts(intervals, length):
        for room in rooms:
            slot = _slot(room, start, start + length, closures[room.id], booked[room.id])
            if slot is not None:
                answer.slots.append(slot)
    return answer


def _check_arguments(kind: str, duration: int) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in APPOINTMENT_KINDS:
        errors["kind"] = [f"Must be one of: {', '.join(APPOINTMENT_KINDS)}."]
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        errors["duration"] = [f"Minutes between 1 and {MAX_DURATION_MINUTES}."]
    if errors:
        raise InvalidInput("Availability needs a kind and a duration.", errors=errors)


def _location(session: Session, code: str) -> Location:
    if not is_printable_id(code, 16):
        raise NotFound(f"No location {code!r}.")
    location = session.scalar(
        sa.select(Location)
        .where(Location.code == code)
        .options(
            selectinload(Location.opening_hours),
            selectinload(Location.closures),
            selectinload(Location.registrations),
        )
    )
    if location is None:
        raise NotFound(f"No location {code!r}.")
    return location


def _rooms(session: Session, location: Location, kind: str) -> list[Room]:
    return list(
        session.scalars(
            sa.select(Room)
            .where(
                Room.location_id == location.id,
                Room.kind == ROOM_KIND_FOR[kind],
                Room.active.is_(True),
            )
            .order_by(Room.id)
        )
    )


def _closures(session: Session, rooms: list[Room], window: Interval) -> dict[int, list[Interval]]:
    found: dict[int, list[Interval]] = defaultdict(list)
    rows = session.execute(
        sa.select(RoomClosure.room_id, RoomClosure.starts_at, RoomClosure.ends_at).where(
            RoomClosure.room_id.in_([room.id for room in rooms]),
            RoomClosure.starts_at < window[1],
            RoomClosure.ends_at > window[0],
        )
    )
    for room_id, starts_at, ends_at in rows:
        found[room_id].append((starts_at, ends_at))
    return found


def _appointments(
    session: Session, rooms: list[Room], window: Interval
) -> dict[int, list[Interval]]:
    found: dict[int, list[Interval]] = defaultdict(list)
    rows = session.execute(
        sa.select(Appointment.room_id, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.room_id.in_([room.id for room in rooms]),
            Appointment.status != "cancelled",
            *overlapping(*window),
        )
    )
    for room_id, starts_at, ends_at in rows:
        found[room_id].append((starts_at, ends_at))
    return found


def _starts(intervals: list[Interval], length: dt.timedelta) -> list[dt.datetime]:
    """Every 15 minutes from each interval's start while the slot still ends by its close."""
    starts: list[dt.datetime] = []
    for opens, closes in intervals:
        start = opens
        while start + length <= closes:
            starts.append(start)
            start += SLOT_STEP
    return starts


def _slot(
    room: Room,
    start: dt.datetime,
    end: dt.datetime,
    closures: list[Interval],
    booked: list[Interval],
) -> Slot | None:
    if any(c_start < end and c_end > start for c_start, c_end in closures):
        return None
    free = room.capacity - max_overlap(booked, start, end)
    if free < 1:
        return None
    return Slot(room_id=room.id, starts_at=start, ends_at=end, free_chairs=free)
