"""Bookings at risk: future bookings that today's rules would refuse, and why.

A future (``starts_at`` ≥ now) booked or checked-in appointment is at risk when it would be
refused today under the rules of its own date. :func:`judge` gives the reasons for any set of
appointments in a fixed number of statements, in the order of ``RISK_REASONS``::

    location_closed  room_closed  room_inactive  over_capacity
    staff_not_eligible  site_not_licensed  staff_double_booked

The verdicts are stored (``appointment_risk``, one row per reason) so that reads stay cheap:
``Appointment.at_risk``, ``GET /api/v1/appointments?at_risk=true``, the day board and the
follow-up digest read the rows. Storing is the one place a verdict changes, so :func:`store` also
tells the event feed: ``appointment.at_risk`` when a booking's reasons appear or change,
``appointment.risk_cleared`` when they are gone.

Who judges: a session hook (:func:`install_risk_hook`). After each flush it notes what the
flushed rows can touch — a closure its site's days, a room its appointments, a credential its
clinician's, a site rule its state's infusions — and before the commit :func:`judge_pending`
judges only those future appointments and stores the verdicts. The API, the console and the
jobs write through the same session, so none can forget it. The count of the touched bookings
the last commit left at risk is kept for :func:`opsadmin.impact.bookings_at_risk` (the API's
``bookings_at_risk``); :func:`preview_impact` judges a pending change before it is committed (the console's confirm
step). A booking the booking service has just checked against every rule is not judged again.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, attributes, selectinload

from opsadmin import impact
from opsadmin.bookings.models import ACTIVE_STATUSES, Appointment, AppointmentRisk
from opsadmin.bookings.service import LONGEST_APPOINTMENT, RULES_PASSED, max_overlap
from opsadmin.db import utcnow
from opsadmin.events.service import record_event
from opsadmin.locations import service as locations
from opsadmin.locations.licensing import load_licensing
from opsadmin.locations.models import (
    Location,
    LocationClosure,
    OpeningHours,
    SiteRegistration,
    SiteRule,
)
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.eligibility import eligibility_of
from opsadmin.staff.models import Credential, CredentialRule, StaffMember

PENDING = "opsadmin_risk_pending"  # session.info: scopes noted since the last judgement
CHECKED = RULES_PASSED  # session.info: appointments the booking service just checked
LAST = impact.COUNT_KEY  # session.info: how many judged bookings the last commit left at risk
# Fields whose change can put bookings at risk (or take them out of it).
LOCATION_FIELDS = ("active", "timezone", "state", "opening_hours")
ROOM_FIELDS = ("capacity", "active", "location_id", "kind")
STAFF_FIELDS = ("active", "role", "locations")
APPOINTMENT_SCHEDULE = ("location_id", "room_id", "staff_id", "kind", "starts_at", "ends_at")


@dataclass(frozen=True)
class Scope:
    """Future appointments a change can touch: ``what`` = ``value``, optionally within a window.

    ``what`` is a column of the appointment (location_id, room_id, staff_id, id), ``role`` (the
    clinician's), ``state`` (the site's infusions), or ``flagged_room``/``flagged_staff``/
    ``flagged_id`` (only those already at risk: a freed chair or slot can only clear them)."""

    what: str
    value: Any
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None


# -- judging ------------------------------------------------------------------------------------


@dataclass
class _Context:
    """Everything the rules need about a set of appointments, loaded in a fixed number of queries."""

    locations: dict[int, Location]
    rooms: dict[int, Room]
    room_closures: dict[int, list[tuple[dt.datetime, dt.datetime]]]
    room_bookings: dict[int, list[tuple[dt.datetime, dt.datetime]]]
    staff_bookings: dict[int, list[tuple[int, int, dt.datetime, dt.datetime]]]
    eligible: dict[tuple, Any]
    licensing: Any


def judge(session: Session, appointments: Sequence[Appointment]) -> dict[int, list[str]]:
    """The reasons each appointment would be refused today under the rules of its own date
    (empty: fine), in the order of RISK_REASONS. Past or final appointments are never at risk.

    About ten statements whatever the number of appointments or the size of the tables."""
    judged = [a for a in appointments if _can_be_at_risk(a)]
    verdicts: dict[int, list[str]] = {a.id: [] for a in appointments}
    if not judged:
        return verdicts
    context = _load_context(session, judged)
    for appointment in judged:
        verdicts[appointment.id] = _reasons(appointment, context)
    return verdicts


def _can_be_at_risk(appointment: Appointment) -> bool:
    return appointment.status in ACTIVE_STATUSES and appointment.starts_at >= utcnow()


def _load_context(session: Session, appointments: list[Appointment]) -> _Context:
    window = (
        min(a.starts_at for a in appointments) - LONGEST_APPOINTMENT,
        max(a.ends_at for a in appointments),
    )
    sites = {
        loc.id: loc
        for loc in session.scalars(
            sa.select(Location)
            .where(Location.id.in_({a.location_id for a in appointments}))
            .options(selectinload(Location.opening_hours), selectinload(Location.closures))
        )
    }
    rooms = {
        r.id: r
        for r in session.scalars(
            sa.select(Room).where(Room.id.in_({a.room_id for a in appointments}))
        )
    }
    questions = [_question(a, sites[a.location_id]) for a in appointments]
    return _Context(
        locations=sites,
        rooms=rooms,
        room_closures=_room_closures(session, rooms, window),
        room_bookings=_room_bookings(session, rooms, window),
        staff_bookings=_staff_bookings(session, {a.staff_id for a in appointments}, window),
        eligible=eligibility_of(session, questions),
        licensing=load_licensing(session, sites.values()),
    )


def _question(appointment: Appointment, location: Location) -> tuple:
    day = locations.local_date(location, appointment.starts_at)
    return (appointment.staff_id, location, day, appointment.kind)


def _room_closures(session: Session, rooms: dict[int, Room], window: tuple) -> dict[int, list]:
    found: dict[int, list] = defaultdict(list)
    for room_id, starts_at, ends_at in session.execute(
        sa.select(RoomClosure.room_id, RoomClosure.starts_at, RoomClosure.ends_at).where(
            RoomClosure.room_id.in_(rooms), RoomClosure.starts_at < window[1],
            RoomClosure.ends_at > window[0],
        )
    ):  # fmt: skip
        found[room_id].append((starts_at, ends_at))
    return found


def _room_bookings(session: Session, rooms: dict[int, Room], window: tuple) -> dict[int, list]:
    """Each room's non-cancelled appointments in the window, sorted by start."""
    found: dict[int, list] = defaultdict(list)
    for room_id, starts_at, ends_at in session.execute(
        sa.select(Appointment.room_id, Appointment.starts_at, Appointment.ends_at)
        .where(
            Appointment.room_id.in_(rooms),
            Appointment.status != "cancelled",
            Appointment.starts_at < window[1],
            Appointment.ends_at > window[0],
        )
        .order_by(Appointment.starts_at)
    ):
        found[room_id].append((starts_at, ends_at))
    return found


def _staff_bookings(session: Session, staff_ids: set[int], window: tuple) -> dict[int, list]:
    found: dict[int, list] = defaultdict(list)
    for row in session.execute(
        sa.select(
            Appointment.staff_id, Appointment.id, Appointment.location_id,
            Appointment.starts_at, Appointment.ends_at,
        ).where(
            Appointment.staff_id.in_(staff_ids), Appointment.status != "cancelled",
            Appointment.starts_at < window[1], Appointment.ends_at > window[0],
        )
    ):  # fmt: skip
        found[row[0]].append(tuple(row[1:]))
    return found


def _reasons(appointment: Appointment, context: _Context) -> list[str]:
    location = context.locations[appointment.location_id]
    room = context.rooms[appointment.room_id]
    start, end = appointment.starts_at, appointment.ends_at
    checks = (
        ("location_closed", lambda: _location_closed(location, start, end)),
        ("room_closed", lambda: _overlaps_any(context.room_closures[room.id], start, end)),
        ("room_inactive", lambda: not room.active),
        ("over_capacity", lambda: _over_capacity(context.room_bookings[room.id], room, start, end)),
        (
            "staff_not_eligible",
            lambda: not context.eligible[_question(appointment, location)].eligible,
        ),
        ("site_not_licensed", lambda: _unlicensed(context, appointment, location)),
        ("staff_double_booked", lambda: _double_booked(context, appointment)),
    )
    return [reason for reason, failed in checks if failed()]


def _location_closed(location: Location, start: dt.datetime, end: dt.datetime) -> bool:
    # Closed for a holiday, out of service, or outside today's opening hours.
    return not location.active or not locations.is_open_between(location, start, end)


def _overlaps_any(intervals: Iterable[tuple], start: dt.datetime, end: dt.datetime) -> bool:
    return any(s < end and e > start for s, e in intervals)


def _over_capacity(bookings: list[tuple], room: Room, start: dt.datetime, end: dt.datetime) -> bool:
    """More appointments (this one included) overlap at some instant than the room has chairs."""
    first = bisect.bisect_left(bookings, (start - LONGEST_APPOINTMENT,))
    last = bisect.bisect_left(bookings, (end,))
    return max_overlap(bookings[first:last], start, end) > room.capacity


def _unlicensed(context: _Context, appointment: Appointment, location: Location) -> bool:
    if appointment.kind != "infusion":
        return False
    day = locations.local_date(location, appointment.starts_at)
    return bool(context.licensing.missing(location, day))


def _double_booked(context: _Context, appointment: Appointment) -> bool:
    return any(
        other_id != appointment.id
        and location_id != appointment.location_id
        and starts_at < appointment.ends_at
        and ends_at > appointment.starts_at
        for other_id, location_id, starts_at, ends_at in context.staff_bookings[
            appointment.staff_id
        ]
    )


# -- storing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What storing verdicts changed: (appointment id, reason) pairs flagged and cleared."""

    flagged: frozenset[tuple[int, str]]
    cleared: frozenset[tuple[int, str]]


def store(session: Session, verdicts: dict[int, list[str]]) -> Change:
    """Make the stored reasons of the judged appointments the verdicts (two or three statements),
    and tell the event feed of each booking whose reasons changed (two more, only then)."""
    if not verdicts:
        return Change(frozenset(), frozenset())
    table = AppointmentRisk.__table__
    stored = {
        (row.appointment_id, row.reason)
        for row in session.execute(
            sa.select(table.c.appointment_id, table.c.reason).where(
                table.c.appointment_id.in_(verdicts)
            )
        )
    }
    wanted = {(i, reason) for i, reasons in verdicts.items() for reason in reasons}
    cleared, flagged = stored - wanted, wanted - stored
    if cleared:
        pairs = sa.tuple_(table.c.appointment_id, table.c.reason).in_(sorted(cleared))
        session.execute(table.delete().where(pairs))
    if flagged:
        now = utcnow()
        session.execute(
            table.insert(),
            [{"appointment_id": i, "reason": r, "flagged_at": now} for i, r in sorted(flagged)],
        )
    changed = {i for i, _ in cleared | flagged}
    _forget_loaded_risks(session, changed)
    _record_events(session, {i: verdicts[i] for i in changed})
    return Change(frozenset(flagged), frozenset(cleared))


def _record_events(session: Session, verdicts: dict[int, list[str]]) -> None:
    """``appointment.at_risk`` for a booking whose stored reasons became some or changed,
    ``appointment.risk_cleared`` for one whose reasons went back to none; the data is the
    appointment as ``GET`` returns it (its ``at_risk`` the new reasons)."""
    if not verdicts:
        return
    from opsadmin.bookings.schemas import AppointmentSchema

    schema = AppointmentSchema()
    for appointment in session.scalars(
        sa.select(Appointment)
        .where(Appointment.id.in_(verdicts))
        .options(selectinload(Appointment.location), selectinload(Appointment.risks))
        .order_by(Appointment.starts_at, Appointment.id)
    ):
        kind = "appointment.at_risk" if verdicts[appointment.id] else "appointment.risk_cleared"
        record_event(session, kind, schema.dump(appointment))


def _forget_loaded_risks(session: Session, ids: set[int]) -> None:
    for appointment_id in ids:
        loaded = session.identity_map.get(session.identity_key(Appointment, appointment_id))
        if loaded is not None:
            session.expire(loaded, ["risks"])


# -- what a change touches ----------------------------------------------------------------------


def affected(session: Session, scopes: Iterable[Scope]) -> list[Appointment]:
    """The future booked or checked-in appointments the scopes name (one query)."""
    conditions = [_condition(scope) for scope in set(scopes)]
    if not conditions:
        return []
    return list(
        session.scalars(
            sa.select(Appointment)
            .where(
                Appointment.status.in_(ACTIVE_STATUSES),
                Appointment.starts_at >= utcnow(),
                sa.or_(*conditions),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def _condition(scope: Scope) -> sa.ColumnElement[bool]:
    flagged = Appointment.id.in_(sa.select(AppointmentRisk.appointment_id))
    column = {
        "location_id": Appointment.location_id,
        "room_id": Appointment.room_id,
        "staff_id": Appointment.staff_id,
        "id": Appointment.id,
        "flagged_room": Appointment.room_id,
        "flagged_staff": Appointment.staff_id,
        "flagged_id": Appointment.id,
    }.get(scope.what)
    if scope.what == "role":
        return Appointment.staff_id.in_(
            sa.select(StaffMember.id).where(StaffMember.role == scope.value)
        )
    if scope.what == "state":
        return sa.and_(
            Appointment.kind == "infusion",
            Appointment.location_id.in_(
                sa.select(Location.id).where(Location.state == scope.value)
            ),
        )
    condition = column == scope.value
    if scope.what.startswith("flagged_"):
        condition = sa.and_(condition, flagged)
    if scope.starts is not None:
        condition = sa.and_(condition, Appointment.ends_at > scope.starts)
    if scope.ends is not None:
        condition = sa.and_(condition, Appointment.starts_at < scope.ends)
    return condition


# Inside a flush nothing may be loaded: history is read as it stands, never initialised.
_NO_LOAD = attributes.PASSIVE_NO_INITIALIZE


def _values(obj: Any, name: str) -> list[Any]:
    """The attribute's current value and, when it changed in this flush, its previous one."""
    history = attributes.get_history(obj, name, passive=_NO_LOAD)
    values = [*history.added, *history.unchanged, *history.deleted]
    found = [v for v in values if v is not None]
    if not found and sa.inspect(obj).dict.get(name) is not None:
        found = [sa.inspect(obj).dict[name]]
    return found


def _changed(obj: Any, names: Iterable[str]) -> bool:
    return any(attributes.get_history(obj, name, passive=_NO_LOAD).has_changes() for name in names)


def _day_window(obj: Any) -> tuple[dt.datetime, dt.datetime]:
    """The closure's local days (before and after the change) as a UTC window: exact when its
    site is at hand, else wide enough for any time zone (the judge is exact either way)."""
    days = [*_values(obj, "starts_on"), *_values(obj, "ends_on")]
    first, last = min(days), max(days) + dt.timedelta(days=1)
    site = sa.inspect(obj).dict.get("location")
    if site is not None and site.timezone:
        return (
            locations.local_datetime(site, first, dt.time.min),
            locations.local_datetime(site, last, dt.time.min),
        )
    slack = dt.timedelta(hours=14)
    return (
        dt.datetime.combine(first, dt.time.min, dt.UTC) - slack,
        dt.datetime.combine(last, dt.time.min, dt.UTC) + slack,
    )


def _instant_window(obj: Any) -> tuple[dt.datetime, dt.datetime]:
    instants = [*_values(obj, "starts_at"), *_values(obj, "ends_at")]
    return min(instants), max(instants)


def scopes_of(obj: Any, *, new: bool, checked: set[Appointment]) -> list[Scope]:
    """What the flushed ``obj`` can touch (nothing for the rest of the model)."""
    if isinstance(obj, Appointment):
        return _appointment_scopes(obj, new=new, checked=checked)
    if isinstance(obj, LocationClosure):
        return [Scope("location_id", v, *_day_window(obj)) for v in _values(obj, "location_id")]
    if isinstance(obj, RoomClosure):
        return [Scope("room_id", v, *_instant_window(obj)) for v in _values(obj, "room_id")]
    if isinstance(obj, OpeningHours | SiteRegistration):
        return [Scope("location_id", v) for v in _values(obj, "location_id")]
    if isinstance(obj, Credential):
        return [Scope("staff_id", v) for v in _values(obj, "staff_id")]
    if isinstance(obj, CredentialRule):
        return [Scope("role", v) for v in _values(obj, "role")]
    if isinstance(obj, SiteRule):
        return [Scope("state", v) for v in _values(obj, "state")]
    return _master_scopes(obj, new=new)


def _master_scopes(obj: Any, *, new: bool) -> list[Scope]:
    if new:
        return []  # a new site, room or clinician has no appointments yet
    for model, fields, what in (
        (Location, LOCATION_FIELDS, "location_id"),
        (Room, ROOM_FIELDS, "room_id"),
        (StaffMember, STAFF_FIELDS, "staff_id"),
    ):
        if isinstance(obj, model) and _changed(obj, fields):
            return [Scope(what, obj.id)]
    return []


def _appointment_scopes(obj: Appointment, *, new: bool, checked: set[Appointment]) -> list[Scope]:
    starts, ends = _instant_window(obj)
    rooms, staff = _values(obj, "room_id"), _values(obj, "staff_id")
    if obj in checked and new:
        return []  # every rule passed, and a new booking frees nothing
    if new:
        # Written past the booking rules (the console, a test, an import): judge its neighbours.
        return [Scope("room_id", r, starts, ends) for r in rooms] + [
            Scope("staff_id", s, starts, ends) for s in staff
        ]
    freed = [Scope("flagged_room", r, starts, ends) for r in rooms] + [
        Scope("flagged_staff", s, starts, ends) for s in staff
    ]
    if obj in checked:
        return freed  # itself passed every rule: judge_pending clears it
    if _changed(obj, APPOINTMENT_SCHEDULE):
        return [*freed, Scope("id", obj.id)]
    return [*freed, Scope("flagged_id", obj.id)]


# -- the session hook ---------------------------------------------------------------------------


def _after_flush(session: Session, flush_context: Any) -> None:
    checked = session.info.get(CHECKED, set())
    scopes = session.info.setdefault(PENDING, set())
    for collection, new in ((session.new, True), (session.dirty, False), (session.deleted, False)):
        for obj in collection:
            scopes.update(scopes_of(obj, new=new, checked=checked))


def judge_pending(session: Session) -> int:
    """Judge and store what the changes since the last judgement touch; return how many of those
    bookings are at risk now (also kept for :func:`bookings_at_risk`)."""
    session.flush()
    scopes = session.info.pop(PENDING, set())
    checked = {a.id for a in session.info.pop(CHECKED, set()) if a.id is not None}
    if not scopes and not checked:
        return 0
    touched = [a for a in affected(session, scopes) if a.id not in checked]
    verdicts = judge(session, touched) | {appointment_id: [] for appointment_id in checked}
    store(session, verdicts)
    count = sum(1 for reasons in verdicts.values() if reasons)
    session.info[LAST] = count
    return count


@dataclass(frozen=True)
class Impact:
    """A pending change's bookings at risk: each with its reasons and whether it is news."""

    at_risk: list[tuple[Appointment, list[str], bool]]

    @property
    def count(self) -> int:
        return len(self.at_risk)

    @property
    def new(self) -> int:
        return sum(1 for _, _, is_new in self.at_risk if is_new)


def preview_impact(session: Session) -> Impact:
    """Judge the session's pending change without storing anything (the caller commits or rolls
    back): the bookings it touches that would then be at risk, and which of them are news."""
    session.flush()
    touched = affected(session, session.info.get(PENDING, set()))
    verdicts = judge(session, touched)
    stored = {
        (i, r)
        for i, r in session.execute(
            sa.select(AppointmentRisk.appointment_id, AppointmentRisk.reason).where(
                AppointmentRisk.appointment_id.in_(verdicts)
            )
        )
    }
    return Impact(
        [
            (a, verdicts[a.id], any((a.id, r) not in stored for r in verdicts[a.id]))
            for a in touched
            if verdicts[a.id]
        ]
    )


def console_preview(session: Session) -> list[impact.AtRisk]:
    """:func:`preview_impact` as the console lists it: booking, site time, room, clinician,
    reasons (the appointments' site, room and clinician read in three statements)."""
    found = preview_impact(session)
    if not found.at_risk:
        return []
    loaded = {
        a.id: a
        for a in session.scalars(
            sa.select(Appointment)
            .where(Appointment.id.in_([a.id for a, _, _ in found.at_risk]))
            .options(
                selectinload(Appointment.location),
                selectinload(Appointment.room),
                selectinload(Appointment.staff),
            )
        )
    }
    return [_console_item(loaded[a.id], reasons, new) for a, reasons, new in found.at_risk]


def _console_item(appointment: Appointment, reasons: list[str], new: bool) -> impact.AtRisk:
    site = appointment.location
    tz = locations.zone(site.timezone)
    starts, ends = appointment.starts_at.astimezone(tz), appointment.ends_at.astimezone(tz)
    return impact.AtRisk(
        id=appointment.id,
        external_id=appointment.external_id,
        starts_at=appointment.starts_at.isoformat(),
        site_time=f"{starts:%a %d %b %Y %H:%M}–{ends:%H:%M} {starts:%Z}",
        location=site.code,
        date=starts.date().isoformat(),
        room=appointment.room.name,
        clinician=appointment.staff.name,
        kind=appointment.kind,
        status=appointment.status,
        reasons=tuple(reasons),
        new=new,
    )


def _before_commit(session: Session) -> None:
    session.info[LAST] = 0
    session.flush()  # the last changes note their scopes
    if session.info.get(PENDING) or session.info.get(CHECKED):
        judge_pending(session)


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(CHECKED, None)


def install_risk_hook(session_class: Any = Session) -> None:
    """Judge, before every commit, the bookings that commit's changes touch (idempotent); let
    the console preview a pending change."""
    impact.register_previewer(console_preview)
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
        # First of the before-commit hooks: the verdicts' events must reach the outbox, whose
        # own hook writes the transaction's events at commit.
        event.listen(session_class, "before_commit", _before_commit, insert=True)
        event.listen(session_class, "after_soft_rollback", _after_rollback)


# -- reading ------------------------------------------------------------------------------------


def at_risk_list(
    session: Session,
    *,
    region_ids: set[int] | None = None,
    location: str | None = None,
    reason: str | None = None,
    limit: int = 500,
) -> list[Appointment]:
    """The future bookings at risk, soonest first, with their site, room, clinician and reasons
    (four queries); ``region_ids`` None means every region."""
    query = (
        sa.select(Appointment)
        .join(Appointment.location)
        .where(
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at >= utcnow(),
            Appointment.id.in_(_flagged(reason)),
        )
        .options(
            selectinload(Appointment.location),
            selectinload(Appointment.room),
            selectinload(Appointment.staff),
            selectinload(Appointment.risks),
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(limit)
    )
    if region_ids is not None:
        query = query.where(Location.region_id.in_(region_ids or {-1}))
    if location:
        query = query.where(Location.code == location)
    return list(session.scalars(query))


def _flagged(reason: str | None) -> sa.Select:
    query = sa.select(AppointmentRisk.appointment_id)
    return query.where(AppointmentRisk.reason == reason) if reason else query
