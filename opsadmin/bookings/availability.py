"""Availability: the starts a booking could take at a location on a local day.

Starts are every 15 minutes from each opening interval's start, ending by that interval's close,
outside closures, in the active rooms suiting the kind; a start is listed only with at least one
free chair for the whole slot. Intervals come from ``locations.service.open_intervals``, which
converts local hours with the day's own offset, so a 23- or 25-hour day comes out right.

A window of up to 14 days is answered at once: the site's master data (hours, holidays, DEA
registrations, rooms) and the credential rules come from a per-worker cache that the database's
``cache_version`` token invalidates (:mod:`opsadmin.master_cache`), the window's appointments and
room closures from one statement, the clinicians from two; free chairs come from a sweep over each
room's bookings (:class:`Occupancy`), not from a scan of every booking for every slot. The
statement count is the same for one day or fourteen and for any number of bookings or clinicians.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from opsadmin import master_cache
from opsadmin.bookings.models import Appointment
from opsadmin.bookings.service import (
    ROOM_KIND_FOR,
    is_printable_id,
    overlapping,
)
from opsadmin.errors import InvalidInput, NotFound
from opsadmin.locations import service as locations
from opsadmin.locations.licensing import Licensing, load_licensing
from opsadmin.locations.models import Location
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.eligibility import StaffFacts, eligible_staff_by_day
from opsadmin.staff.models import APPOINTMENT_KINDS

SLOT_STEP = dt.timedelta(minutes=15)
MAX_DURATION_MINUTES = 12 * 60
MAX_DAYS = 14

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Hours:
    weekday: int
    opens: dt.time
    closes: dt.time


@dataclass(frozen=True)
class Holiday:
    starts_on: dt.date
    ends_on: dt.date


@dataclass(frozen=True)
class Registration:
    kind: str
    state: str
    issued_on: dt.date | None
    expires_on: dt.date


@dataclass(frozen=True)
class RoomFacts:
    id: int
    kind: str
    capacity: int


@dataclass(frozen=True)
class Site:
    """A location's master data as plain values, cached per worker (see :mod:`opsadmin.master_cache`).

    It answers to what ``locations.open_intervals`` and the licensing rules read of a Location.
    """

    id: int
    code: str
    state: str
    timezone: str
    active: bool
    opening_hours: tuple[Hours, ...]
    closures: tuple[Holiday, ...]
    registrations: tuple[Registration, ...]
    required_registrations: tuple[str, ...]  # the site rules of its state (infusions)
    rooms: tuple[RoomFacts, ...]  # active rooms, by id

    def licensing(self) -> Licensing:
        """The site's licensing (its state's site rules, its registrations), from these values."""
        return Licensing(
            {self.state: list(self.required_registrations)},
            {self.id: list(self.registrations)},  # type: ignore[dict-item]
        )


@dataclass(frozen=True)
class Slot:
    room_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    free_chairs: int


@dataclass(frozen=True)
class Availability:
    location: Site
    date: dt.date
    kind: str
    duration: int
    slots: list[Slot] = field(default_factory=list)
    eligible_staff: list[StaffFacts] = field(default_factory=list)


@dataclass(frozen=True)
class AvailabilityWindow:
    location: Site
    kind: str
    duration: int
    days: list[Availability]


def availability(
    session: Session, location_code: str, day: dt.date, kind: str, duration: int
) -> Availability:
    """Free slots of ``duration`` minutes for a ``kind`` at the location on its local ``day``."""
    return availability_window(session, location_code, day, day, kind, duration).days[0]


def availability_window(
    session: Session, location_code: str, first: dt.date, last: dt.date, kind: str, duration: int
) -> AvailabilityWindow:
    """:func:`availability` for every local day from ``first`` to ``last`` (at most 14), read at once.

    Statements: the cache token, then (master data and the site's roster cached) one read of the
    window's bookings and room closures — the same for one day or fourteen, for any number of
    bookings or clinicians.
    """
    _check_arguments(kind, duration, first, last)
    version = master_cache.current_version(session)
    site = _site(session, location_code, version)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    eligible = eligible_staff_by_day(session, site.id, days, kind, location=site, version=version)
    slots = free_slots(session, site, days, kind, duration)
    answers = [Availability(site, day, kind, duration, slots[day], eligible[day]) for day in days]
    return AvailabilityWindow(site, kind, duration, answers)


def bookable_location(session: Session, code: str) -> Site:
    """The site by code with what slots are cut from (hours, holidays, registrations, rooms),
    from the per-worker cache when no write has changed it (one statement: the token)."""
    return _site(session, code, master_cache.current_version(session))


def free_slots(
    session: Session, site: Site, days: list[dt.date], kind: str, duration: int
) -> dict[dt.date, list[Slot]]:
    """The free slots of each of the site's local ``days``, by start then room: the days'
    appointments and room closures in one statement, free chairs by a sweep per room."""
    rooms = [room for room in site.rooms if room.kind == ROOM_KIND_FOR[kind]]
    opening = {day: _bookable_intervals(site, day, kind) for day in days}
    intervals = [interval for found in opening.values() for interval in found]
    booked: dict[int, list[Interval]] = defaultdict(list)
    closures: dict[int, list[Interval]] = defaultdict(list)
    if rooms and intervals:
        window = (min(start for start, _ in intervals), max(end for _, end in intervals))
        booked, closures = _window(session, rooms, window)
    occupancy = {room.id: Occupancy(booked[room.id]) for room in rooms}
    length = dt.timedelta(minutes=duration)
    return {
        day: [
            slot
            for start in _starts(opening[day], length)
            for room in rooms
            if (slot := _slot(room, start, start + length, closures[room.id], occupancy[room.id]))
        ]
        for day in days
    }


def _check_arguments(kind: str, duration: int, first: dt.date, last: dt.date) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in APPOINTMENT_KINDS:
        errors["kind"] = [f"Must be one of: {', '.join(APPOINTMENT_KINDS)}."]
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        errors["duration"] = [f"Minutes between 1 and {MAX_DURATION_MINUTES}."]
    if last < first:
        errors["to"] = ["Must not be before from."]
    elif (last - first).days >= MAX_DAYS:
        errors["to"] = [f"At most {MAX_DAYS} days from 'from' (inclusive)."]
    if errors:
        raise InvalidInput(
            "Availability needs a kind, a duration and a short window.", errors=errors
        )


def _bookable_intervals(site: Site, day: dt.date, kind: str) -> list[Interval]:
    """The day's opening intervals, or none when the site takes no such booking that day."""
    if not site.active:
        return []
    if kind == "infusion" and site.licensing().missing(site, day):  # type: ignore[arg-type]
        return []
    return locations.open_intervals(site, day)  # type: ignore[arg-type]


# -- master data (cached) -----------------------------------------------------------------------


def _site(session: Session, code: str, version: int | None) -> Site:
    if not is_printable_id(code, 16):
        raise NotFound(f"No location {code!r}.")
    return master_cache.cached(session, ("site", code), version, lambda: _load_site(session, code))


def _load_site(session: Session, code: str) -> Site:
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
    licensing = load_licensing(session, [location])  # the site rules of its state
    rooms = session.scalars(
        sa.select(Room)
        .where(Room.location_id == location.id, Room.active.is_(True))
        .order_by(Room.id)
    )
    return Site(
        id=location.id,
        code=location.code,
        state=location.state,
        timezone=location.timezone,
        active=location.active,
        opening_hours=tuple(Hours(h.weekday, h.opens, h.closes) for h in location.opening_hours),
        closures=tuple(Holiday(c.starts_on, c.ends_on) for c in location.closures),
        registrations=tuple(
            Registration(r.kind, r.state, r.issued_on, r.expires_on) for r in location.registrations
        ),
        required_registrations=tuple(licensing.rules.get(location.state, ())),
        rooms=tuple(RoomFacts(r.id, r.kind, r.capacity) for r in rooms),
    )


# -- the window's bookings ----------------------------------------------------------------------


def _window(
    session: Session, rooms: list[RoomFacts], window: Interval
) -> tuple[dict[int, list[Interval]], dict[int, list[Interval]]]:
    """The rooms' non-cancelled appointments and maintenance closures over ``window``, one statement."""
    room_ids = [room.id for room in rooms]
    appointments = sa.select(
        Appointment.room_id, Appointment.starts_at, Appointment.ends_at, sa.literal(0)
    ).where(
        Appointment.room_id.in_(room_ids),
        Appointment.status != "cancelled",
        *overlapping(*window),
    )
    maintenance = sa.select(
        RoomClosure.room_id, RoomClosure.starts_at, RoomClosure.ends_at, sa.literal(1)
    ).where(
        RoomClosure.room_id.in_(room_ids),
        RoomClosure.starts_at < window[1],
        RoomClosure.ends_at > window[0],
    )
    booked: dict[int, list[Interval]] = defaultdict(list)
    closed: dict[int, list[Interval]] = defaultdict(list)
    for room_id, starts_at, ends_at, is_closure in session.execute(
        sa.union_all(appointments, maintenance)
    ):
        (closed if is_closure else booked)[room_id].append((starts_at, ends_at))
    return booked, closed


class Occupancy:
    """Chairs taken over time in one room, as a step function: a sweep over its bookings.

    ``most(start, end)`` equals ``max_overlap(bookings, start, end)`` (half-open intervals: at
    an instant where one booking ends and another begins, the ending counts first), found by a
    binary search instead of a scan of every booking for every slot.
    """

    def __init__(self, booked: list[Interval]) -> None:
        events = sorted([(s, 1) for s, _ in booked] + [(e, -1) for _, e in booked])
        self.times: list[dt.datetime] = []
        self.levels: list[int] = []
        level = 0
        for instant, step in events:
            level += step
            if self.times and self.times[-1] == instant:
                self.levels[-1] = level
            else:
                self.times.append(instant)
                self.levels.append(level)

    def most(self, start: dt.datetime, end: dt.datetime) -> int:
        index = bisect_right(self.times, start) - 1
        most = self.levels[index] if index >= 0 else 0
        index += 1
        while index < len(self.times) and self.times[index] < end:
            most = max(most, self.levels[index])
            index += 1
        return most


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
    room: RoomFacts,
    start: dt.datetime,
    end: dt.datetime,
    closures: list[Interval],
    occupancy: Occupancy,
) -> Slot | None:
    if closures and any(c_start < end and c_end > start for c_start, c_end in closures):
        return None
    free = room.capacity - occupancy.most(start, end)
    if free < 1:
        return None
    return Slot(room_id=room.id, starts_at=start, ends_at=end, free_chairs=free)
