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
from opsadmin.locations.licensing import Licensing, load_licensing
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
    location = bookable_location(session, location_code)
    staff = eligible_staff(session, location.id, day, kind)
    slots = free_slots(session, location, [day], kind, duration)[day]
    return Availability(location, day, kind, duration, slots=slots, eligible_staff=staff)


def free_slots(
    session: Session, location: Location, days: list[dt.date], kind: str, duration: int
) -> dict[dt.date, list[Slot]]:
    """The free slots of each of the location's local ``days``, by start then room.

    The rooms, their closures and their appointments are loaded once for the whole span of the
    days (three queries however many days and slots), then every slot is judged in memory.
    """
    found: dict[dt.date, list[Slot]] = {day: [] for day in days}
    licensing = load_licensing(session, [location]) if kind == "infusion" else None
    intervals = {day: _bookable_intervals(location, day, licensing) for day in days}
    spans = [interval for day_intervals in intervals.values() for interval in day_intervals]
    if not spans:
        return found
    rooms = _rooms(session, location, kind)
    window = (min(start for start, _ in spans), max(end for _, end in spans))
    closures = _closures(session, rooms, window)
    booked = _appointments(session, rooms, window)
    length = dt.timedelta(minutes=duration)
    for day, day_intervals in intervals.items():
        if not day_intervals:
            continue
        span = (day_intervals[0][0], max(end for _, end in day_intervals))
        # Only the day's own appointments and closures: a slot is then judged against a handful.
        day_closures = {room.id: _within(closures[room.id], span) for room in rooms}
        day_booked = {room.id: _within(booked[room.id], span) for room in rooms}
        for start in _starts(day_intervals, length):
            for room in rooms:
                slot = _slot(
                    room, start, start + length, day_closures[room.id], day_booked[room.id]
                )
                if slot is not None:
                    found[day].append(slot)
    return found


def _bookable_intervals(
    location: Location, day: dt.date, licensing: Licensing | None
) -> list[Interval]:
    """The day's opening intervals; none when the site is inactive or, given the licensing of
    an infusion search, misses a registration its state requires that day."""
    if not location.active:
        return []
    intervals = locations.open_intervals(location, day)
    if intervals and licensing is not None and licensing.missing(location, day):
        return []
    return intervals


def _within(intervals: list[Interval], span: Interval) -> list[Interval]:
    return [(start, end) for start, end in intervals if start < span[1] and end > span[0]]


def _check_arguments(kind: str, duration: int) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in APPOINTMENT_KINDS:
        errors["kind"] = [f"Must be one of: {', '.join(APPOINTMENT_KINDS)}."]
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        errors["duration"] = [f"Minutes between 1 and {MAX_DURATION_MINUTES}."]
    if errors:
        raise InvalidInput("Availability needs a kind and a duration.", errors=errors)


def bookable_location(session: Session, code: str) -> Location:
    """The location by code with its hours, closures and registrations (what slots are cut from)."""
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
