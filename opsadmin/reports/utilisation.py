"""The utilisation report: chair-minutes available and booked per room, location, region.

Cost follows the week's appointments, never the table, and the statements sent never grow with
the chain. Python turns each location's opening hours into *slots*: one per open interval of a
local day (a few per location-day), in UTC, with the local hour its first hour begins at; a room
closure becomes a negative slot of its room. The slots of the report week and of the week before
travel to the database as a single JSON parameter, and one statement clips every non-cancelled
appointment of the two weeks to them (GREATEST/LEAST), cuts the clipped time at local hours by
joining a 24-row numbers CTE, and returns sums per room and week, per weekday and hour, and the
completed/no-show counts. Available minutes are schedule arithmetic, done in Python.

Longer than most modules on purpose: the slot arithmetic and the one statement that consumes the
slots must change together, and splitting them would put one contract in two files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.bookings.models import Appointment
from opsadmin.db import UTCDateTime
from opsadmin.errors import NotFound
from opsadmin.locations.licensing import load_licensing
from opsadmin.locations.models import (
    Location,
    LocationClosure,
    OpeningHours,
    Region,
)
from opsadmin.locations.service import open_intervals, zone
from opsadmin.reports.sqlfuncs import greatest, json_rows, least, seconds_between
from opsadmin.reports.weeks import shift_week, week_days
from opsadmin.rooms.models import Room, RoomClosure

Interval = tuple[dt.datetime, dt.datetime]
Cell = tuple[int, int]  # (local weekday, local hour)
HOUR = dt.timedelta(hours=1)
CURRENT, PREVIOUS = 0, 1  # the report week and the week before, as numbered in the SQL
TREND_WEEKS = 8  # the weekly e-mail's trend: the report week and the seven before


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


# -- the week's open time as slots -----------------------------------------------------------


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


@dataclass(frozen=True)
class Slot:
    """Open time [start, end) inside one local day and one UTC offset.

    Its local hours begin at ``hour_start`` + n hours (local hour ``hour`` + n): a constant offset
    is what lets the database cut it at local hours with integer arithmetic alone.
    """

    location_id: int
    week: int  # CURRENT or PREVIOUS
    weekday: int
    hour: int
    hour_start: dt.datetime
    start: dt.datetime
    end: dt.datetime
    room_id: int = 0  # 0: every room of the location; else the room a closure takes out
    sign: int = 1  # -1 for a closure: its minutes are taken off the room's

    def hours(self) -> list[tuple[Cell, int]]:
        """The slot's minutes per local (weekday, hour)."""
        # In seconds after hour_start, where local hour n is [3600·n, 3600·(n+1)).
        start = (self.start - self.hour_start).total_seconds()
        end = (self.end - self.hour_start).total_seconds()
        pieces = []
        for n in range(int(start // 3600), int(-(-end // 3600))):
            seconds = min(end, 3600 * n + 3600) - max(start, 3600 * n)
            pieces.append(((self.weekday, self.hour + n), round(seconds / 60)))
        return pieces


def _one_offset(start: dt.datetime, end: dt.datetime, tz: Any) -> list[Interval]:
    """[start, end), or its local-hour pieces when the clocks change inside it (each then has one
    offset); opening hours never span a change, so this is one interval in practice."""
    last = end - dt.timedelta(microseconds=1)
    if start.astimezone(tz).utcoffset() == last.astimezone(tz).utcoffset():
        return [(start, end)]
    return [piece for _, piece in split_by_local_hour(start, end, tz)]


def open_slots(site: Site, days: Iterable[dt.date], week: int) -> list[Slot]:
    """The location's opening time on ``days``, minus holiday closures, as slots."""
    tz = zone(site.timezone)
    slots = []
    for day in days:
        # open_intervals reads only the hours, closures and time zone the Site carries.
        for interval in open_intervals(site, day):  # type: ignore[arg-type]
            for start, end in _one_offset(*interval, tz):
                local = start.astimezone(tz)
                hour_start = start - dt.timedelta(
                    minutes=local.minute, seconds=local.second, microseconds=local.microsecond
                )
                slots.append(
                    Slot(site.id, week, local.weekday(), local.hour, hour_start, start, end)
                )
    return slots


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[dt.datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def closure_slots(room_id: int, closures: list[Interval], slots: list[Slot]) -> list[Slot]:
    """The parts of the room's (merged) closures inside its location's open slots, negative."""
    pieces = []
    for c_start, c_end in merge(closures):
        for slot in slots:
            start, end = max(slot.start, c_start), min(slot.end, c_end)
            if start < end:
                pieces.append(replace(slot, room_id=room_id, sign=-1, start=start, end=end))
    return pieces


def week_bounds(site: Site, days: list[dt.date], week: int) -> tuple[int, int, Interval]:
    """The location's local week [Monday 00:00, next Monday 00:00) in UTC."""
    tz = zone(site.timezone)
    start = dt.datetime.combine(days[0], dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    return site.id, week, (start, end)


# -- SQL: clip the two weeks' appointments to the slots --------------------------------------

SLOT_COLUMNS = ("loc", "room", "sign", "wk", "wd", "hr", "h0", "s", "e")
WEEK_COLUMNS = ("loc", "wk", "s", "e")


def _appointments(dialect: str, anchor: Any, until: Any) -> sa.FromClause:
    """The two weeks' non-cancelled appointments of the listed locations' active infusion rooms."""
    a = Appointment.__table__.c
    room = Room.__table__
    window = sa.and_(a.starts_at >= anchor, a.starts_at < until, a.status != "cancelled")
    rooms = sa.and_(
        room.c.location_id.in_(sa.bindparam("locations", expanding=True)),
        room.c.kind == "infusion",
        room.c.active.is_(True),
    )
    columns = (a.location_id, a.room_id, a.status, a.starts_at, a.ends_at)
    if dialect == "postgresql":
        # Left to itself PostgreSQL reads every appointment of the window through the starts_at
        # index and filters; per room, the (room_id, starts_at) index reads only the room's.
        # OFFSET 0 keeps the lateral subquery from being flattened back into that plan.
        per_room = sa.select(*columns).where(a.room_id == room.c.id, window)
        held = per_room.offset(sa.literal_column("0")).lateral("held_in_room")
        source = sa.select(*held.c).select_from(room).join(held, sa.true()).where(rooms)
    else:
        source = sa.select(*columns).join(room, room.c.id == a.room_id).where(rooms, window)
    return source.subquery("week_appointments")


def _held(dialect: str, origin: Any, anchor: Any, until: Any) -> sa.CTE:
    """The appointments, their bounds as seconds after ``origin``."""
    a = _appointments(dialect, anchor, until).c
    return sa.select(
        a.location_id.label("loc"),
        a.room_id.label("room"),
        a.status,
        seconds_between(origin, a.starts_at).label("s"),
        seconds_between(origin, a.ends_at).label("e"),
    ).cte("held")


def _clipped(held: sa.CTE, slots: sa.FromClause) -> sa.CTE:
    """Each appointment's time inside each slot, as seconds after the slot's first local hour
    began: from there its local hours are the fixed ranges [3600·n, 3600·(n+1))."""
    return (
        sa.select(
            slots.c.wk,
            held.c.room,
            held.c.status,
            slots.c.wd,
            slots.c.hr,
            slots.c.sign,
            sa.type_coerce(greatest(held.c.s, slots.c.s) - slots.c.h0, sa.BigInteger).label("cs"),
            sa.type_coerce(least(held.c.e, slots.c.e) - slots.c.h0, sa.BigInteger).label("ce"),
        )
        .select_from(held)
        .join(
            slots,
            sa.and_(
                held.c.loc == slots.c.loc,
                sa.or_(slots.c.room == 0, slots.c.room == held.c.room),
                held.c.s < slots.c.e,
                held.c.e > slots.c.s,
            ),
        )
        .cte("clipped")
    )


def _pieces(clipped: sa.CTE) -> sa.CTE:
    """The clipped times cut at local hours (recursively: one row per hour n they touch), in
    signed whole minutes."""
    c = clipped.c
    first = sa.select(
        c.wk, c.room, c.status, c.wd, c.hr, c.sign, c.cs, c.ce, (c.cs // 3600).label("n")
    ).cte("cut", recursive=True)
    cut = first.union_all(
        sa.select(*(col for col in first.c if col.name != "n"), first.c.n + 1).where(
            first.c.n * 3600 + 3600 < first.c.ce
        )
    )
    lower = cut.c.n * 3600
    seconds = least(cut.c.ce, lower + 3600) - greatest(cut.c.cs, lower)
    held_minutes = sa.cast(sa.func.round(seconds / sa.literal_column("60.0")), sa.Integer)
    signed = held_minutes * cut.c.sign
    return sa.select(
        cut.c.wk,
        cut.c.room,
        cut.c.wd,
        (cut.c.hr + cut.c.n).label("hr"),
        signed.label("minutes"),
        sa.case((cut.c.status == "no_show", signed), else_=0).label("no_show"),
    ).cte("pieces")


def _status_counts(held: sa.CTE, weeks: sa.FromClause) -> sa.Select:
    """Completed and no-show appointments starting in their location's local week, per room."""
    return (
        sa.select(
            sa.literal_column("2").label("kind"),
            weeks.c.wk,
            held.c.room,
            sa.func.sum(sa.case((held.c.status == "completed", 1), else_=0)),
            sa.func.sum(sa.case((held.c.status == "no_show", 1), else_=0)),
        )
        .select_from(held)
        .join(weeks, sa.and_(held.c.loc == weeks.c.loc, held.c.s >= weeks.c.s))
        .where(held.c.s < weeks.c.e, held.c.status.in_(("completed", "no_show")))
        .group_by(weeks.c.wk, held.c.room)
    )


@lru_cache(maxsize=4)
def figures_query(dialect: str) -> sa.CompoundSelect:
    """One statement, rows of (kind, a, b, x, y):

    kind 0 — (week, room, booked minutes, no-show minutes);
    kind 1 — (weekday, hour, booked minutes of the report week, 0);
    kind 2 — (week, room, completed, no-show).
    Parameters: ``slots`` and ``weeks`` (JSON, seconds after ``origin``), ``locations``,
    ``origin``, and the window [``anchor``, ``until``) of appointment starts; its text is the
    same for any week and any chain.
    """
    origin = sa.bindparam("origin", type_=UTCDateTime())
    anchor = sa.bindparam("anchor", type_=UTCDateTime())
    until = sa.bindparam("until", type_=UTCDateTime())
    held = _held(dialect, origin, anchor, until)
    slots = json_rows(dialect, "slots", SLOT_COLUMNS)
    pieces = _pieces(_clipped(held, slots))
    p = pieces.c
    by_room = sa.select(
        sa.literal_column("0").label("kind"),
        p.wk,
        p.room,
        sa.func.sum(p.minutes),
        sa.func.sum(p.no_show),
    ).group_by(p.wk, p.room)
    by_hour = (
        sa.select(
            sa.literal_column("1").label("kind"),
            p.wd,
            p.hr,
            sa.func.sum(p.minutes),
            sa.literal_column("0"),
        )
        .where(p.wk == CURRENT)
        .group_by(p.wd, p.hr)
    )
    counts = _status_counts(held, json_rows(dialect, "weeks", WEEK_COLUMNS))
    return sa.union_all(by_room, by_hour, counts)


def _seconds(instant: dt.datetime, anchor: dt.datetime) -> int:
    return round((instant - anchor).total_seconds())


def _slot_json(slots: list[Slot], anchor: dt.datetime) -> str:
    return json.dumps(
        [
            {
                "loc": s.location_id,
                "room": s.room_id,
                "sign": s.sign,
                "wk": s.week,
                "wd": s.weekday,
                "hr": s.hour,
                "h0": _seconds(s.hour_start, anchor),
                "s": _seconds(s.start, anchor),
                "e": _seconds(s.end, anchor),
            }
            for s in slots
        ]
    )


def _week_json(bounds: list[tuple[int, int, Interval]], anchor: dt.datetime) -> str:
    return json.dumps(
        [
            {"loc": loc, "wk": week, "s": _seconds(start, anchor), "e": _seconds(end, anchor)}
            for loc, week, (start, end) in bounds
        ]
    )


def _figure_rows(session: Session, slots: list[Slot], bounds, location_ids: list[int]):
    # An appointment may begin the day before the first open hour and run into it.
    anchor = min(start for _, _, (start, _) in bounds) - dt.timedelta(days=1)
    # Seconds count from an hour earlier, so that every appointment's hour number is positive.
    origin = anchor - HOUR
    query = figures_query(session.get_bind().dialect.name)
    parameters = {
        "slots": _slot_json(slots, origin),
        "weeks": _week_json(bounds, origin),
        "locations": location_ids,
        "origin": origin,
        "anchor": anchor,
        "until": max(end for _, _, (_, end) in bounds),
    }
    return session.execute(query, parameters).all()


# -- loading the sites and rooms -------------------------------------------------------------


@dataclass
class Site:
    """A location's columns the report needs, with the hours and holidays of the two weeks."""

    id: int
    code: str
    name: str
    timezone: str
    state: str
    opening_hours: list[Any]
    closures: list[Any]
    # The registrations its state requires that it lacks on the week's last day (licensing).
    missing: list[str] = field(default_factory=list)
    dea_valid_until: dt.date | None = None


def _load_sites(session: Session, where: Any, first: dt.date, last: dt.date) -> list[Site]:
    """The matching locations (five statements), holidays limited to [first, last]."""
    rows = session.execute(
        sa.select(Location.id, Location.code, Location.name, Location.timezone, Location.state)
        .where(where)
        .order_by(Location.code)
    ).all()
    ids = [row[0] for row in rows]
    hours = defaultdict(list)
    for h in session.execute(
        sa.select(
            OpeningHours.location_id, OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes
        ).where(OpeningHours.location_id.in_(ids))
    ):
        hours[h.location_id].append(h)
    closures = defaultdict(list)
    for c in session.execute(
        sa.select(LocationClosure.location_id, LocationClosure.starts_on, LocationClosure.ends_on)
        .where(LocationClosure.location_id.in_(ids))
        .where(LocationClosure.starts_on <= last, LocationClosure.ends_on >= first)
    ):
        closures[c.location_id].append(c)
    sites = [Site(*row, hours[row[0]], closures[row[0]]) for row in rows]
    licensing = load_licensing(session, sites)
    for site in sites:
        # A lapsed site still counts its chairs, flagged: that capacity is lost, not absent.
        site.missing = licensing.missing(site, last)
        dea = [
            r.expires_on
            for r in licensing.registrations.get(site.id, [])
            if r.kind == "dea_registration" and r.state == site.state
        ]
        site.dea_valid_until = max(dea, default=None)
    return sites


def _load_rooms(session: Session, location_ids: list[int]) -> list[Any]:
    """Active infusion rooms: rows of (id, location_id, name, capacity)."""
    return list(
        session.execute(
            sa.select(Room.id, Room.location_id, Room.name, Room.capacity)
            .where(
                Room.location_id.in_(location_ids),
                Room.kind == "infusion",
                Room.active.is_(True),
            )
            .order_by(Room.location_id, Room.name)
        )
    )


def _room_closures(session: Session, location_ids: list[int], span: Interval):
    """Closures of the locations' rooms overlapping ``span``, per room id."""
    closures: dict[int, list[Interval]] = defaultdict(list)
    for room_id, c_start, c_end in session.execute(
        sa.select(RoomClosure.room_id, RoomClosure.starts_at, RoomClosure.ends_at)
        .join(Room, Room.id == RoomClosure.room_id)
        .where(
            Room.location_id.in_(location_ids),
            RoomClosure.starts_at < span[1],
            RoomClosure.ends_at > span[0],
        )
    ):
        closures[room_id].append((c_start, c_end))
    return closures


# -- assembling the figures ------------------------------------------------------------------


@dataclass
class RoomWeek:
    """One room's figures for one week."""

    room: Any  # (id, location_id, name, capacity)
    available: int = 0
    booked: int = 0
    no_show_minutes: int = 0
    completed: int = 0
    no_show: int = 0


@dataclass
class Weeks:
    """Every room's figures for the report week and the week before, and the week's heat cells
    (per local (weekday, hour): [available, booked] chair-minutes)."""

    rooms: dict[tuple[int, int], RoomWeek]  # (week, room id)
    cells: dict[Cell, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def of(self, week: int) -> list[RoomWeek]:
        return [figures for (w, _), figures in self.rooms.items() if w == week]


def _count_available(weeks: Weeks, rooms: list[Any], slots: list[Slot], taken: list[Slot]):
    chairs: Counter[int] = Counter()
    for room in rooms:
        chairs[room.location_id] += room.capacity
    open_minutes: Counter[tuple[int, int]] = Counter()
    for slot in slots:
        for cell, held in slot.hours():
            open_minutes[(slot.week, slot.location_id)] += held
            if slot.week == CURRENT:
                weeks.cells[cell][0] += held * chairs[slot.location_id]
    for slot in taken:
        figures = weeks.rooms[(slot.week, slot.room_id)]
        for cell, held in slot.hours():
            figures.available -= held * figures.room.capacity
            if slot.week == CURRENT:
                weeks.cells[cell][0] -= held * figures.room.capacity
    for (week, _), figures in weeks.rooms.items():
        figures.available += figures.room.capacity * open_minutes[(week, figures.room.location_id)]


def _count_booked(weeks: Weeks, rows: Iterable[Any]) -> None:
    for kind, a, b, x, y in rows:
        if kind == 1:
            weeks.cells[(a, b)][1] += int(x or 0)
            continue
        figures = weeks.rooms[(a, b)]
        if kind == 0:
            figures.booked, figures.no_show_minutes = int(x or 0), int(y or 0)
        else:
            figures.completed, figures.no_show = int(x or 0), int(y or 0)


def room_closure_slots(
    session: Session, sites: list[Site], rooms: list[Any], slots: list[Slot], bounds: list
) -> list[Slot]:
    """The rooms' closures inside their locations' open slots, as negative slots (one statement)."""
    span = (min(b[2][0] for b in bounds), max(b[2][1] for b in bounds))
    closures = _room_closures(session, [site.id for site in sites], span)
    by_location: dict[int, list[Slot]] = defaultdict(list)
    for slot in slots:
        by_location[slot.location_id].append(slot)
    return [
        piece
        for room in rooms
        for piece in closure_slots(
            room.id, closures.get(room.id, []), by_location[room.location_id]
        )
    ]


def available_by_week(
    session: Session, weeks: list[str], where: Any
) -> tuple[list[Site], dict[tuple[int, str], int]]:
    """Available chair-minutes of the locations matching ``where`` for each of ``weeks``, counted
    exactly as the weekly report counts them: the sites, and {(location id, week): minutes}.

    Five statements whatever the number of weeks, rooms and closures.
    """
    days = [week_days(week) for week in weeks]
    sites = _load_sites(session, where, min(d[0] for d in days), max(d[-1] for d in days))
    rooms = _load_rooms(session, [site.id for site in sites])
    slots = [slot for site in sites for w, d in enumerate(days) for slot in open_slots(site, d, w)]
    bounds = [week_bounds(site, d, w) for site in sites for w, d in enumerate(days)]
    figures = Weeks({(w, room.id): RoomWeek(room) for w in range(len(weeks)) for room in rooms})
    if rooms:
        _count_available(
            figures, rooms, slots, room_closure_slots(session, sites, rooms, slots, bounds)
        )
    available: Counter[tuple[int, str]] = Counter()
    for (w, _), room_week in figures.rooms.items():
        available[(room_week.room.location_id, weeks[w])] += room_week.available
    return sites, dict(available)


def room_weeks(
    session: Session, sites: list[Site], rooms: list[Any], week: str, history: int = 2
) -> Weeks:
    """Every room's figures for ``week`` and the ``history`` − 1 weeks before it, numbered 0
    (``week``), 1 (the week before) and so on (two statements, whatever the data)."""
    listed = [week_days(shift_week(week, -n)) for n in range(history)]
    slots = [
        slot
        for site in sites
        for w, days in enumerate(listed)
        for slot in open_slots(site, days, w)
    ]
    bounds = [week_bounds(site, days, w) for site in sites for w, days in enumerate(listed)]
    weeks = Weeks({(w, room.id): RoomWeek(room) for w in range(history) for room in rooms})
    if not rooms:
        return weeks
    taken = room_closure_slots(session, sites, rooms, slots, bounds)
    _count_available(weeks, rooms, slots, taken)
    rows = _figure_rows(session, slots + taken, bounds, [site.id for site in sites])
    _count_booked(weeks, rows)
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


def heatmap(cells: dict[Cell, list[int]]) -> list[list[float | None]]:
    """Occupancy (booked / available chair-minutes) per local weekday (rows) and hour (columns)."""
    return [
        [ratio(cells[(d, h)][1], cells[(d, h)][0]) if (d, h) in cells else None for h in range(24)]
        for d in range(7)
    ]


def _room_figures(week: RoomWeek) -> dict[str, Any]:
    return {
        "room_id": week.room.id,
        "name": week.room.name,
        "capacity": week.room.capacity,
        **_totals([week]),
    }


def _location_figures(site: Site, current, previous, last_day: dt.date) -> dict[str, Any]:
    totals = _totals(current)
    valid_until = site.dea_valid_until
    return {
        "location_id": site.id,
        "code": site.code,
        "name": site.name,
        "timezone": site.timezone,
        # That capacity is lost, not absent: the site still counts, flagged.
        "dea_lapsed": bool(site.missing),
        "registrations_missing": site.missing,
        "dea_valid_until": valid_until.isoformat() if valid_until else None,
        **totals,
        "change": _change(totals, _totals(previous)),
        "rooms": [_room_figures(w) for w in current],
    }


def _by_location(weeks: list[RoomWeek]) -> dict[int, list[RoomWeek]]:
    grouped: dict[int, list[RoomWeek]] = defaultdict(list)
    for figures in weeks:
        grouped[figures.room.location_id].append(figures)
    return grouped


# -- public API ------------------------------------------------------------------------------


def _trend(
    sites: list[Site], rooms: list[Any], weeks: Weeks, week: str, history: int
) -> dict[str, Any]:
    """Utilisation per week, oldest first, for the region (``weeks``) and each site."""
    listed = [shift_week(week, -n) for n in reversed(range(history))]

    def point(n: int, figures: Iterable[RoomWeek]) -> dict[str, Any]:
        totals = _totals(figures)
        return {
            "week": listed[history - 1 - n],
            "available_minutes": totals["available_minutes"],
            "booked_minutes": totals["booked_minutes"],
            "utilisation": totals["utilisation"],
        }

    order = list(reversed(range(history)))
    by_location = [_by_location(weeks.of(n)) for n in range(history)]
    return {
        "weeks": [point(n, weeks.of(n)) for n in order],
        "locations": [
            {"code": site.code, "weeks": [point(n, by_location[n][site.id]) for n in order]}
            for site in sites
        ],
    }


def compute_utilisation(
    session: Session, week: str, where: Any, history: int = 2
) -> dict[str, Any]:
    """The utilisation figures of ``week`` for the locations matching ``where`` (JSON-ready),
    with the trend over ``history`` weeks (this one and those before it; at least 2).

    Six statements for any number of locations, rooms, appointments and weeks.
    """
    days = week_days(week)
    first = days[0] - dt.timedelta(days=7 * (history - 1))
    sites = _load_sites(session, where, first, days[-1])
    rooms = _load_rooms(session, [site.id for site in sites])
    weeks = room_weeks(session, sites, rooms, week, history)
    current, previous = weeks.of(CURRENT), weeks.of(PREVIOUS)
    totals, prior = _totals(current), _totals(previous)
    now, before = _by_location(current), _by_location(previous)
    return {
        "kind": "utilisation",
        "week": week,
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        **totals,
        "previous": {"week": shift_week(week, -1), **prior},
        "change": _change(totals, prior),
        "locations": [
            _location_figures(site, now[site.id], before[site.id], days[-1]) for site in sites
        ],
        "heatmap": heatmap(weeks.cells),
        "trend": _trend(sites, rooms, weeks, week, history),
    }


def utilisation_for_region(session: Session, week: str, region_code: str) -> dict[str, Any]:
    """The region's utilisation for ``week``; NotFound for an unknown region."""
    region = session.execute(
        sa.select(Region.id, Region.code, Region.name).where(Region.code == region_code)
    ).first()
    if region is None:
        raise NotFound(f"No region {region_code!r}.")
    figures = compute_utilisation(session, week, Location.region_id == region.id, TREND_WEEKS)
    return {"region": {"code": region.code, "name": region.name}, **figures}


def utilisation_for_location(session: Session, week: str, location_code: str) -> dict[str, Any]:
    """One location's utilisation for ``week``; NotFound for an unknown location."""
    location = session.execute(
        sa.select(Location.id, Location.code).where(Location.code == location_code)
    ).first()
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
