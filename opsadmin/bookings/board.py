"""The day board of a site: its rooms' chairs over the opening hours, each appointment in a lane.

Everything is local to the site: the day is the site's calendar day, the time axis is
its wall clock, and positions come from UTC instants, so a day the clocks change is drawn at its
true length. The board is read in six statements whatever the number of appointments: the
location with its hours, the day's location closures, the rooms, the room closures, the
appointments with their clinicians, and the stored verdicts of those at risk
(:mod:`opsadmin.bookings.risk`), which mark their blocks.

Packing: in each room, non-cancelled appointments take the first chair (lane) free at their start,
oldest start first (intervals are half-open: one ending at 11:00 frees its chair for one starting
at 11:00). An appointment that finds every chair taken goes to an "over capacity" lane; cancelled
appointments, which hold no chair, get lanes of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from opsadmin.bookings.models import Appointment
from opsadmin.errors import NotFound
from opsadmin.locations.models import Location, LocationClosure
from opsadmin.locations.service import local_datetime, zone
from opsadmin.rooms.models import Room, RoomClosure

# A day with no opening hours is still drawn over a working day's span, shaded as closed.
DEFAULT_SPAN = (dt.time(8, 0), dt.time(18, 0))
# Every appointment lies inside one local day's opening interval, so none is longer than this:
# the appointments query reads the index from here, not the site's whole history.
LONGEST_APPOINTMENT = dt.timedelta(hours=25)


@dataclass
class Block:
    """One appointment on the board; ``left``/``width`` are percentages of the day's span."""

    id: int
    external_id: str
    kind: str
    status: str
    clinician: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_label: str
    left: float
    width: float
    at_risk: list[str] = field(default_factory=list)


@dataclass
class Shade:
    """A shaded stretch of the span: ``closed`` (outside hours), ``location_closure``,
    ``room_closure`` or ``inactive``."""

    kind: str
    label: str
    left: float
    width: float


@dataclass
class Lane:
    label: str
    kind: str = "chair"  # chair | over_capacity | cancelled
    blocks: list[Block] = field(default_factory=list)
    ends: dt.datetime | None = None


@dataclass
class RoomBoard:
    id: int
    name: str
    kind: str
    capacity: int
    active: bool
    lanes: list[Lane]
    shades: list[Shade]


@dataclass
class DayBoard:
    location: Location
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    ticks: list[tuple[float, str]]
    shades: list[Shade]
    rooms: list[RoomBoard]
    closures: list[str]

    @property
    def previous_day(self) -> dt.date:
        return self.day - dt.timedelta(days=1)

    @property
    def next_day(self) -> dt.date:
        return self.day + dt.timedelta(days=1)

    @property
    def blocks(self) -> list[Block]:
        return [block for room in self.rooms for lane in room.lanes for block in lane.blocks]


def site_today(location: Location, now: dt.datetime | None = None) -> dt.date:
    """The site's calendar date now."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(zone(location.timezone)).date()


def find_location(session: Session, code: str, region_ids: set[int] | None) -> Location:
    """The location ``code`` with its opening hours, if the user's regions include it; NotFound
    for an unknown code and for another region's alike (a scoped user learns nothing of it)."""
    query = (
        sa.select(Location).where(Location.code == code).options(joinedload(Location.opening_hours))
    )
    if region_ids is not None:
        query = query.where(Location.region_id.in_(region_ids or {-1}))
    location = session.scalars(query).unique().one_or_none()
    if location is None:
        raise NotFound(f"No location {code!r}.")
    return location


def day_board(
    session: Session,
    code: str,
    day: dt.date,
    region_ids: set[int] | None = None,
) -> DayBoard:
    """The board of location ``code`` on its local ``day``; a booking at risk carries its reasons."""
    location = find_location(session, code, region_ids)
    hours = _hours(location, day)
    midnight = local_datetime(location, day, dt.time(0, 0))
    next_midnight = local_datetime(location, day + dt.timedelta(days=1), dt.time(0, 0))
    closures = _location_closures(session, location.id, day)
    rooms = _rooms(session, location.id, midnight, next_midnight)
    appointments = _appointments(session, location.id, midnight, next_midnight)
    start, end = _span(location, day, hours, appointments)
    scale = _Scale(start, end)
    shades = _closed_shades(scale, hours)
    shades += [
        Shade("location_closure", f"Closed: {c.reason or 'location closure'}", 0.0, 100.0)
        for c in closures
    ]
    by_room: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        by_room.setdefault(appointment.room_id, []).append(appointment)
    return DayBoard(
        location=location,
        day=day,
        starts_at=start,
        ends_at=end,
        ticks=_ticks(location, scale),
        shades=shades,
        rooms=[_room_board(location, room, by_room.get(room[0].id, []), scale) for room in rooms],
        closures=[c.reason or "location closure" for c in closures],
    )


# -- reading ---------------------------------------------------------------------------------------


def _hours(location: Location, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The day's opening intervals in UTC, closures not subtracted (they are drawn shaded)."""
    return sorted(
        (local_datetime(location, day, h.opens), local_datetime(location, day, h.closes))
        for h in location.opening_hours
        if h.weekday == day.weekday()
    )


def _location_closures(session: Session, location_id: int, day: dt.date) -> list[LocationClosure]:
    return list(
        session.scalars(
            sa.select(LocationClosure)
            .where(
                LocationClosure.location_id == location_id,
                LocationClosure.starts_on <= day,
                LocationClosure.ends_on >= day,
            )
            .order_by(LocationClosure.starts_on)
        )
    )


def _rooms(
    session: Session, location_id: int, start: dt.datetime, end: dt.datetime
) -> list[tuple[Room, list[RoomClosure]]]:
    rooms = list(
        session.scalars(
            sa.select(Room).where(Room.location_id == location_id).order_by(Room.kind, Room.name)
        )
    )
    closures: dict[int, list[RoomClosure]] = {}
    for closure in session.scalars(
        sa.select(RoomClosure)
        .join(RoomClosure.room)
        .where(
            Room.location_id == location_id,
            RoomClosure.starts_at < end,
            RoomClosure.ends_at > start,
        )
        .order_by(RoomClosure.starts_at)
    ):
        closures.setdefault(closure.room_id, []).append(closure)
    return [(room, closures.get(room.id, [])) for room in rooms]


def _appointments(
    session: Session, location_id: int, start: dt.datetime, end: dt.datetime
) -> list[Appointment]:
    return list(
        session.scalars(
            sa.select(Appointment)
            .where(
                Appointment.location_id == location_id,
                Appointment.starts_at < end,
                Appointment.starts_at > start - LONGEST_APPOINTMENT,
                Appointment.ends_at > start,
            )
            .options(joinedload(Appointment.staff), selectinload(Appointment.risks))
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


# -- the time axis ---------------------------------------------------------------------------------


class _Scale:
    """Instants to percentages of the span [start, end)."""

    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        self.start, self.end = start, end
        self.seconds = max((end - start).total_seconds(), 1.0)

    def at(self, instant: dt.datetime) -> float:
        clipped = min(max(instant, self.start), self.end)
        return round((clipped - self.start).total_seconds() * 100 / self.seconds, 3)

    def stretch(self, starts: dt.datetime, ends: dt.datetime) -> tuple[float, float]:
        left = self.at(starts)
        return left, round(self.at(ends) - left, 3)


def _span(
    location: Location,
    day: dt.date,
    hours: list[tuple[dt.datetime, dt.datetime]],
    appointments: list[Appointment],
) -> tuple[dt.datetime, dt.datetime]:
    """From the first opening to the last closing, widened to whole local hours and to any
    appointment booked outside them (backfilled ones may be)."""
    if hours:
        start, end = hours[0][0], max(closes for _, closes in hours)
    else:
        start, end = (local_datetime(location, day, t) for t in DEFAULT_SPAN)
    for appointment in appointments:
        start, end = min(start, appointment.starts_at), max(end, appointment.ends_at)
    midnight = local_datetime(location, day, dt.time(0, 0))
    next_midnight = local_datetime(location, day + dt.timedelta(days=1), dt.time(0, 0))
    start, end = max(start, midnight), min(end, next_midnight)
    return _whole_hour(location, start, down=True), _whole_hour(location, end, down=False)


def _whole_hour(location: Location, instant: dt.datetime, *, down: bool) -> dt.datetime:
    local = instant.astimezone(zone(location.timezone))
    floor = local.replace(minute=0, second=0, microsecond=0)
    if not down and floor != local:
        floor += dt.timedelta(hours=1)
    return floor.astimezone(dt.UTC)


def _ticks(location: Location, scale: _Scale) -> list[tuple[float, str]]:
    """A label at every local whole hour; stepping in UTC keeps a DST day's 23 or 25 hours."""
    tz = zone(location.timezone)
    ticks, instant = [], scale.start
    while instant <= scale.end:
        ticks.append((scale.at(instant), f"{instant.astimezone(tz):%H:%M}"))
        instant += dt.timedelta(hours=1)
    return ticks


def _closed_shades(scale: _Scale, hours: list[tuple[dt.datetime, dt.datetime]]) -> list[Shade]:
    """The stretches of the span outside every opening interval."""
    shades, cursor = [], scale.start
    for opens, closes in hours:
        if opens > cursor:
            shades.append(Shade("closed", "Outside opening hours", *scale.stretch(cursor, opens)))
        cursor = max(cursor, closes)
    if cursor < scale.end:
        label = "Outside opening hours" if hours else "No opening hours this day"
        shades.append(Shade("closed", label, *scale.stretch(cursor, scale.end)))
    return [shade for shade in shades if shade.width > 0]


# -- packing ---------------------------------------------------------------------------------------


def _room_board(
    location: Location,
    room_and_closures: tuple[Room, list[RoomClosure]],
    appointments: list[Appointment],
    scale: _Scale,
) -> RoomBoard:
    room, closures = room_and_closures
    shades = [
        Shade(
            "room_closure",
            f"Room closed: {c.reason or 'maintenance'}",
            *scale.stretch(c.starts_at, c.ends_at),
        )
        for c in closures
    ]
    if not room.active:
        shades.insert(0, Shade("inactive", "Room out of service", 0.0, 100.0))
    blocks = [_block(location, a, scale) for a in appointments]
    return RoomBoard(
        id=room.id,
        name=room.name,
        kind=room.kind,
        capacity=room.capacity,
        active=room.active,
        lanes=pack_lanes(blocks, room.capacity),
        shades=shades,
    )


def pack_lanes(blocks: Iterable[Block], capacity: int) -> list[Lane]:
    """``capacity`` chair lanes, then over-capacity and cancelled lanes as needed (first fit)."""
    chairs = [Lane(f"Chair {n + 1}") for n in range(capacity)]
    over: list[Lane] = []
    cancelled: list[Lane] = []
    for block in sorted(blocks, key=lambda b: (b.starts_at, b.ends_at, b.id)):
        if block.status == "cancelled":
            _first_fit(cancelled, block, "Cancelled", "cancelled", grow=True)
        elif not _first_fit(chairs, block, "", "chair", grow=False):
            _first_fit(over, block, "Over capacity", "over_capacity", grow=True)
    return chairs + over + cancelled


def _first_fit(lanes: list[Lane], block: Block, label: str, kind: str, *, grow: bool) -> bool:
    for lane in lanes:
        if lane.ends is None or lane.ends <= block.starts_at:
            lane.blocks.append(block)
            lane.ends = block.ends_at
            return True
    if not grow:
        return False
    lanes.append(Lane(label, kind, [block], block.ends_at))
    return True


def _block(location: Location, appointment: Appointment, scale: _Scale) -> Block:
    tz = zone(location.timezone)
    starts, ends = appointment.starts_at.astimezone(tz), appointment.ends_at.astimezone(tz)
    return Block(
        id=appointment.id,
        external_id=appointment.external_id,
        kind=appointment.kind,
        status=appointment.status,
        clinician=appointment.staff.name,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        local_label=f"{starts:%H:%M}–{ends:%H:%M}",
        left=scale.at(appointment.starts_at),
        width=max(scale.at(appointment.ends_at) - scale.at(appointment.starts_at), 0.5),
        at_risk=appointment.at_risk,  # the stored verdict (none for a past or final one)
    )


__all__ = ["Block", "DayBoard", "Lane", "RoomBoard", "Shade", "day_board", "pack_lanes"]
