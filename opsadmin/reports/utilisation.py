"""The utilisation report (DESIGN §5): chair-minutes available and booked per room, location, region.

Cost follows the week's appointments, never the table: the open intervals (a few per location and
day, from :func:`opsadmin.locations.service.open_intervals`) are split at local hour boundaries in
Python and handed to the database as a VALUES common table; the database clips every appointment
of the week to them and returns sums per (room, weekday, hour). The number of statements is the
same for 10 appointments or 10,000.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from opsadmin.bookings.models import Appointment
from opsadmin.db import UTCDateTime
from opsadmin.errors import NotFound
from opsadmin.locations.models import Location, Region
from opsadmin.locations.service import open_intervals, zone
from opsadmin.reports.sqlfuncs import greatest, least, minutes_between
from opsadmin.reports.weeks import shift_week, week_days
from opsadmin.rooms.models import Room, RoomClosure

Interval = tuple[dt.datetime, dt.datetime]
# (location or room id, local weekday 0-6, local hour 0-23, start, end)
Piece = tuple[int, int, int, dt.datetime, dt.datetime]
Cell = tuple[int, int]  # (weekday, hour)


def minutes(start: dt.datetime, end: dt.datetime) -> int:
    return round((end - start).total_seconds() / 60)


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


# -- the week's open time, split at local hours ----------------------------------------------


def split_by_local_hour(
    start: dt.datetime, end: dt.datetime, tz: Any
) -> list[tuple[Cell, Interval]]:
    """Cut [start, end) at the local hour boundaries of ``tz``: ((weekday, hour), piece) each."""
    pieces = []
    while start < end:
        local = start.astimezone(tz)
        boundary = start + dt.timedelta(
            minutes=60 - local.minute, seconds=-local.second, microseconds=-local.microsecond
        )
        piece_end = min(boundary, end)
        pieces.append(((local.weekday(), local.hour), (start, piece_end)))
        start = piece_end
    return pieces


def location_slots(location: Location, days: Iterable[dt.date]) -> list[Piece]:
    """The location's opening time on ``days``, minus holiday closures, per local hour."""
    tz = zone(location.timezone)
    slots = []
    for day in days:
        for start, end in open_intervals(location, day):
            for (weekday, hour), (s, e) in split_by_local_hour(start, end, tz):
                slots.append((location.id, weekday, hour, s, e))
    return slots


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[dt.datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def closure_pieces(room: Room, closures: list[Interval], slots: list[Piece]) -> list[Piece]:
    """The parts of the room's (merged) closures that fall inside its location's open slots."""
    pieces = []
    for c_start, c_end in merge(closures):
        for _, weekday, hour, s, e in slots:
            start, end = max(s, c_start), min(e, c_end)
            if start < end:
                pieces.append((room.id, weekday, hour, start, end))
    return pieces


# -- SQL: clip the week's appointments to the slots ------------------------------------------


def _values_cte(name: str, rows: list[Piece]) -> sa.CTE:
    columns = (
        sa.column("key_id", sa.Integer),
        sa.column("weekday", sa.Integer),
        sa.column("hour", sa.Integer),
        sa.column("s", UTCDateTime()),
        sa.column("e", UTCDateTime()),
    )
    return sa.values(*columns, name=name).data(rows).cte(name)


def _clipped_minutes(session: Session, rows: list[Piece], room_ids: list[int], by_room: bool):
    """Σ minutes of non-cancelled appointments inside ``rows``, per (room, weekday, hour).

    ``by_room`` says whether the rows are keyed by room (closure pieces) or by location (slots).
    """
    if not rows or not room_ids:
        return []
    cte = _values_cte("pieces", rows)
    a = Appointment.__table__.c
    overlap = minutes_between(greatest(a.starts_at, cte.c.s), least(a.ends_at, cte.c.e))
    key = a.room_id if by_room else a.location_id
    earliest = min(r[3] for r in rows) - dt.timedelta(days=1)
    latest = max(r[4] for r in rows)
    query = (
        sa.select(
            a.room_id,
            cte.c.weekday,
            cte.c.hour,
            sa.func.sum(overlap),
            sa.func.sum(sa.case((a.status == "no_show", overlap), else_=0)),
        )
        .select_from(cte.join(Appointment.__table__, key == cte.c.key_id))
        .where(
            a.room_id.in_(room_ids),
            a.status != "cancelled",
            a.starts_at < cte.c.e,
            a.ends_at > cte.c.s,
            # Bounds on the indexed column keep the scan to the week's appointments.
            a.starts_at >= earliest,
            a.starts_at < latest,
        )
        .group_by(a.room_id, cte.c.weekday, cte.c.hour)
    )
    return session.execute(query).all()


def _status_counts(session: Session, bounds: list[tuple[int, dt.datetime, dt.datetime]], room_ids):
    """Completed and no-show appointments starting in each location's local week, per room."""
    if not bounds or not room_ids:
        return []
    columns = (
        sa.column("location_id", sa.Integer),
        sa.column("s", UTCDateTime()),
        sa.column("e", UTCDateTime()),
    )
    weeks = sa.values(*columns, name="weeks").data(bounds).cte("weeks")
    a = Appointment.__table__.c
    query = (
        sa.select(a.room_id, a.status, sa.func.count())
        .select_from(weeks.join(Appointment.__table__, a.location_id == weeks.c.location_id))
        .where(
            a.room_id.in_(room_ids),
            a.status.in_(("completed", "no_show")),
            a.starts_at >= weeks.c.s,
            a.starts_at < weeks.c.e,
            # Constant bounds on the indexed column: without them PostgreSQL scans the whole table.
            a.starts_at >= min(b[1] for b in bounds),
            a.starts_at < max(b[2] for b in bounds),
        )
        .group_by(a.room_id, a.status)
    )
    return session.execute(query).all()


# -- assembling the figures ------------------------------------------------------------------


@dataclass
class RoomWeek:
    """One room's figures for a week; ``cells`` are per (weekday, hour) [available, booked]."""

    room: Room
    available: int = 0
    booked: int = 0
    no_show_minutes: int = 0
    completed: int = 0
    no_show: int = 0
    cells: dict[Cell, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))


def _week_bounds(location: Location, days: list[dt.date]) -> tuple[int, dt.datetime, dt.datetime]:
    tz = zone(location.timezone)
    start = dt.datetime.combine(days[0], dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    return location.id, start, end


def _room_closures(session: Session, room_ids: list[int], start: dt.datetime, end: dt.datetime):
    if not room_ids:
        return {}
    rows = session.execute(
        sa.select(RoomClosure.room_id, RoomClosure.starts_at, RoomClosure.ends_at).where(
            RoomClosure.room_id.in_(room_ids),
            RoomClosure.starts_at < end,
            RoomClosure.ends_at > start,
        )
    ).all()
    closures: dict[int, list[Interval]] = defaultdict(list)
    for room_id, c_start, c_end in rows:
        closures[room_id].append((c_start, c_end))
    return closures


def _available(rooms: list[Room], slots_by_location, pieces: list[Piece], weeks) -> None:
    for week in weeks.values():
        room = week.room
        for _, weekday, hour, s, e in slots_by_location[room.location_id]:
            week.cells[(weekday, hour)][0] += minutes(s, e) * room.capacity
    for room_id, weekday, hour, s, e in pieces:
        weeks[room_id].cells[(weekday, hour)][0] -= minutes(s, e) * weeks[room_id].room.capacity


def _booked(weeks: dict[int, RoomWeek], rows, sign: int) -> None:
    for room_id, weekday, hour, booked, no_show in rows:
        week = weeks[room_id]
        week.cells[(weekday, hour)][1] += sign * int(booked or 0)
        week.no_show_minutes += sign * int(no_show or 0)


def room_weeks(session: Session, locations: list[Location], rooms: list[Room], week: str):
    """Every room's figures for ``week`` (a constant number of statements)."""
    days = week_days(week)
    room_ids = [room.id for room in rooms]
    weeks = {room.id: RoomWeek(room) for room in rooms}
    slots_by_location = {loc.id: location_slots(loc, days) for loc in locations}
    slots = [slot for loc_slots in slots_by_location.values() for slot in loc_slots]
    bounds = [_week_bounds(loc, days) for loc in locations]
    span = (min((b[1] for b in bounds), default=None), max((b[2] for b in bounds), default=None))
    closures = _room_closures(session, room_ids, *span) if bounds else {}
    pieces = [
        piece
        for room in rooms
        for piece in closure_pieces(
            room, closures.get(room.id, []), slots_by_location[room.location_id]
        )
    ]
    _available(rooms, slots_by_location, pieces, weeks)
    _booked(weeks, _clipped_minutes(session, slots, room_ids, by_room=False), +1)
    _booked(weeks, _clipped_minutes(session, pieces, room_ids, by_room=True), -1)
    for room_id, status, count in _status_counts(session, bounds, room_ids):
        setattr(weeks[room_id], "completed" if status == "completed" else "no_show", count)
    for week_figures in weeks.values():
        week_figures.available = sum(c[0] for c in week_figures.cells.values())
        week_figures.booked = sum(c[1] for c in week_figures.cells.values())
    return weeks


def _totals(weeks: Iterable[RoomWeek]) -> dict[str, Any]:
    weeks = list(weeks)
    available = sum(w.available for w in weeks)
    booked = sum(w.booked for w in weeks)
    completed = sum(w.completed for w in weeks)
    no_show = sum(w.no_show for w in weeks)
    return {
        "available_minutes": available,
        "booked_minutes": booked,
        "utilisation": ratio(booked, available),
        "completed": completed,
        "no_show": no_show,
        "no_show_rate": ratio(no_show, completed + no_show),
        "no_show_minutes": sum(w.no_show_minutes for w in weeks),
    }


def _change(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    def delta(key: str) -> float | None:
        if current[key] is None or previous[key] is None:
            return None
        return round(current[key] - previous[key], 4)

    return {
        "utilisation": delta("utilisation"),
        "booked_minutes": current["booked_minutes"] - previous["booked_minutes"],
        "no_show_rate": delta("no_show_rate"),
    }


def heatmap(weeks: Iterable[RoomWeek]) -> list[list[float | None]]:
    """Occupancy (booked / available chair-minutes) per local weekday (rows) and hour (columns)."""
    cells: dict[Cell, list[int]] = defaultdict(lambda: [0, 0])
    for week in weeks:
        for cell, (available, booked) in week.cells.items():
            cells[cell][0] += available
            cells[cell][1] += booked
    return [
        [ratio(cells[(d, h)][1], cells[(d, h)][0]) if (d, h) in cells else None for h in range(24)]
        for d in range(7)
    ]


def dea_valid_until(location: Location) -> dt.date | None:
    dates = [r.expires_on for r in location.registrations if r.kind == "dea_registration"]
    return max(dates, default=None)


def _room_figures(week: RoomWeek) -> dict[str, Any]:
    return {
        "room_id": week.room.id,
        "name": week.room.name,
        "capacity": week.room.capacity,
        **_totals([week]),
    }


def _location_figures(location: Location, current, previous, last_day: dt.date) -> dict[str, Any]:
    mine = [w for w in current.values() if w.room.location_id == location.id]
    before = [w for w in previous.values() if w.room.location_id == location.id]
    totals = _totals(mine)
    valid_until = dea_valid_until(location)
    return {
        "code": location.code,
        "name": location.name,
        "timezone": location.timezone,
        # That capacity is lost, not absent: the site still counts, flagged.
        "dea_lapsed": valid_until is None or valid_until < last_day,
        "dea_valid_until": valid_until.isoformat() if valid_until else None,
        **totals,
        "change": _change(totals, _totals(before)),
        "rooms": [_room_figures(w) for w in mine],
    }


# -- public API ------------------------------------------------------------------------------


def _load(session: Session, where: Any) -> tuple[list[Location], list[Room]]:
    locations = list(
        session.scalars(
            sa.select(Location)
            .where(where)
            .options(
                selectinload(Location.opening_hours),
                selectinload(Location.closures),
                selectinload(Location.registrations),
            )
            .order_by(Location.code)
        )
    )
    ids = [loc.id for loc in locations]
    rooms = list(
        session.scalars(
            sa.select(Room)
            .where(Room.location_id.in_(ids), Room.kind == "infusion", Room.active.is_(True))
            .order_by(Room.location_id, Room.name)
        )
    )
    return locations, rooms


def compute_utilisation(session: Session, week: str, where: Any) -> dict[str, Any]:
    """The utilisation figures of ``week`` for the locations matching ``where`` (JSON-ready)."""
    days = week_days(week)
    locations, rooms = _load(session, where)
    current = room_weeks(session, locations, rooms, week)
    previous = room_weeks(session, locations, rooms, shift_week(week, -1))
    totals = _totals(current.values())
    prior = _totals(previous.values())
    return {
        "kind": "utilisation",
        "week": week,
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        **totals,
        "previous": {"week": shift_week(week, -1), **prior},
        "change": _change(totals, prior),
        "locations": [_location_figures(loc, current, previous, days[-1]) for loc in locations],
        "heatmap": heatmap(current.values()),
    }


def utilisation_for_region(session: Session, week: str, region_code: str) -> dict[str, Any]:
    """The region's utilisation for ``week``; NotFound for an unknown region."""
    region = session.scalar(sa.select(Region).where(Region.code == region_code))
    if region is None:
        raise NotFound(f"No region {region_code!r}.")
    figures = compute_utilisation(session, week, Location.region_id == region.id)
    return {"region": {"code": region.code, "name": region.name}, **figures}


def utilisation_for_location(session: Session, week: str, location_code: str) -> dict[str, Any]:
    """One location's utilisation for ``week``; NotFound for an unknown location."""
    location = session.scalar(sa.select(Location).where(Location.code == location_code))
    if location is None:
        raise NotFound(f"No location {location_code!r}.")
    return {
        "location": location.code,
        **compute_utilisation(session, week, Location.id == location.id),
    }


def utilisation_by_site(
    session: Session, week: str, region_ids: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per-site figures of ``week`` for the dashboard; ``region_ids`` None means every region."""
    where = sa.true() if region_ids is None else Location.region_id.in_(region_ids or {-1})
    return compute_utilisation(session, week, where)["locations"]
