"""The booking rules: create, reschedule and move the booking system's appointments.

Every rule is checked inside one transaction that starts by locking the room row, so concurrent
bookings of the last chair serialise: PostgreSQL takes ``SELECT … FOR UPDATE`` on the room; SQLite
opens the transaction with ``BEGIN IMMEDIATE`` (the database's write lock), which is why the caller
must hand over a session with no transaction open (commit or roll back first). The cross-site
rules lock what makes them race-safe on PostgreSQL, always in the order room → clinician →
patient: the clinician's row (``staff_double_booked``) and an advisory lock on the patient
reference (``patient_double_booked``).

Entry points: :func:`book_appointment` (one booking, its own transaction) and, for callers that
book several appointments in one transaction, :func:`begin_booking` once then
:func:`book_in_transaction` for each (every rule, every lock, the same answers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from opsadmin.bookings.models import (
    ACTIVE_STATUSES,
    APPOINTMENT_STATUSES,
    FINAL_STATUSES,
    Appointment,
    AppointmentRisk,
)
from opsadmin.db import begin_immediate, utcnow
from opsadmin.errors import (
    DUPLICATE,
    INVALID_TRANSITION,
    LOCATION_CLOSED,
    NOT_STARTED,
    OUTSIDE_OPENING_HOURS,
    PATIENT_DOUBLE_BOOKED,
    ROOM_AT_CAPACITY,
    ROOM_CLOSED,
    ROOM_KIND_MISMATCH,
    ROOM_NOT_AT_LOCATION,
    SITE_NOT_LICENSED,
    STAFF_DOUBLE_BOOKED,
    STAFF_NOT_ELIGIBLE,
    Conflict,
    InvalidInput,
    NotFound,
)
from opsadmin.locations import service as locations
from opsadmin.locations.licensing import missing_registrations
from opsadmin.locations.models import Location
from opsadmin.referrals import service as referrals
from opsadmin.referrals.models import INDICATIONS, Referral
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.staff.eligibility import eligibility
from opsadmin.staff.models import APPOINTMENT_KINDS, StaffMember

# The room kind each appointment kind needs (follow-ups are seen in consult rooms).
ROOM_KIND_FOR = {"infusion": "infusion", "consult": "consult", "follow_up": "consult"}
# Every appointment lies inside one local day's opening interval (check_open), so none is longer
# than a day: 25 hours on the day clocks go back. That bounds overlap searches from below, so
# they read the index range around the appointment, not the room's whole history.
LONGEST_APPOINTMENT = dt.timedelta(hours=25)
# Where a booked or checked-in appointment may move; the final statuses go nowhere.
NEXT_STATUSES = ("checked_in", "completed", "no_show", "cancelled")
# Statuses that say the appointment has happened: refused while it is still in the future.
HAPPENED_STATUSES = ("completed", "no_show")
# session.info: the appointments this transaction checked against every rule; the
# bookings-at-risk hook (opsadmin.bookings.risk) does not judge them again.
RULES_PASSED = "opsadmin_rules_passed"
# Namespace (first key) of the PostgreSQL advisory lock taken on a patient reference.
PATIENT_LOCK_SPACE = 1_123_011
# What a change of which re-runs every booking rule (a status change alone does not).
SCHEDULE_FIELDS = (
    "location_id",
    "room_id",
    "staff_id",
    "kind",
    "referral_id",
    "starts_at",
    "ends_at",
)


# The caller's condition on the stored appointment (None: there is none), e.g. an If-Match.
Precondition = Callable[[Appointment | None], None]


@dataclass(frozen=True)
class BookingRequest:
    """The booking system's appointment, as its PUT body says it (``location`` is the site code)."""

    external_id: str
    location: str
    room_id: int
    staff_id: int
    kind: str
    indication: str
    patient_ref: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    referral_id: int | None = None
    status: str = "booked"


def book_appointment(
    session: Session, booking: BookingRequest, *, precondition: Precondition | None = None
) -> tuple[Appointment, bool]:
    """Create or reschedule the booking system's appointment; return it and whether it is new.

    The room row is locked first so that concurrent bookings of the last chair serialise. A
    request identical to the stored appointment changes nothing (no flush, no audit event).
    """
    begin_booking(session)
    return book_in_transaction(session, booking, precondition=precondition)


def begin_booking(session: Session) -> None:
    """Open the booking transaction as a writer (SQLite: BEGIN IMMEDIATE; PostgreSQL: no-op,
    the row and advisory locks are taken per booking). The session must have none open."""
    begin_immediate(session)


def book_in_transaction(
    session: Session, booking: BookingRequest, *, precondition: Precondition | None = None
) -> tuple[Appointment, bool]:
    """:func:`book_appointment` inside a transaction :func:`begin_booking` opened: the room is
    locked, then every rule checked; an appointment flushed earlier in the same transaction
    counts (several sessions of one course)."""
    check_values(booking)
    room = lock_room(session, booking.room_id)
    values = _resolve(session, booking)
    existing = _find(session, booking.external_id, lock=True)
    if precondition is not None:
        precondition(existing)  # under the row lock: nobody changes it between check and write
    if existing is not None:
        return _change(session, room, booking, values, existing), False
    check_started(booking.status, values["starts_at"])
    check_rules(session, room, booking, values)
    return _create(session, values), True


def _change(
    session: Session, room: Room, booking: BookingRequest, values: dict, existing: Appointment
) -> Appointment:
    changes = _changes(existing, values)
    if not changes:
        return existing
    check_transition(existing.status, values["status"])
    if "status" in changes:
        check_started(values["status"], values["starts_at"])
    if set(changes).intersection(SCHEDULE_FIELDS):
        if existing.status in FINAL_STATUSES:
            raise Conflict(
                f"A {existing.status} appointment cannot be rescheduled.", code=INVALID_TRANSITION
            )
        # A reschedule re-checks every rule; the appointment does not count against itself.
        check_rules(session, room, booking, values, exclude_id=existing.id)
        rules_passed(session, existing)
    # Otherwise only the status or descriptive fields change: the slot was checked when booked.
    return _update(session, existing, changes)


def change_status(
    session: Session, external_id: str, status: str, *, precondition: Precondition | None = None
) -> Appointment:
    """Move an appointment along booked/checked_in → checked_in/completed/no_show/cancelled.

    The same status again is a no-op; anything out of a final status is ``invalid_transition``.
    Cancelling frees the chair (cancelled appointments never count against capacity).
    """
    if status not in APPOINTMENT_STATUSES:
        raise InvalidInput(f"Unknown status {status!r}.", errors={"status": ["Unknown status."]})
    begin_immediate(session)
    appointment = _find(session, external_id, lock=True)
    if appointment is None:
        raise NotFound(f"No appointment {external_id!r}.")
    if precondition is not None:
        precondition(appointment)
    previous = appointment.status
    check_transition(previous, status)
    if status != previous:
        check_started(status, appointment.starts_at)
        appointment.status = status
        session.flush()
        _tell_referral(session, appointment, previous, appointment.kind)
    return appointment


def get_appointment(session: Session, external_id: str) -> Appointment:
    """The appointment with its location (which every presentation of it shows) in one query."""
    appointment = _find(session, external_id, with_location=True)
    if appointment is None:
        raise NotFound(f"No appointment {external_id!r}.")
    return appointment


def appointments_query(
    *,
    location: str | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    status: str | None = None,
    at_risk: bool | None = None,
) -> sa.Select:
    """The appointments matching the filters, oldest first (a statement: the caller paginates).

    ``at_risk=True`` keeps the future booked or checked-in ones with a stored risk reason,
    ``at_risk=False`` the others."""
    query = sa.select(Appointment).order_by(Appointment.starts_at, Appointment.id)
    if at_risk is not None:
        flagged = Appointment.id.in_(sa.select(AppointmentRisk.appointment_id))
        risky = sa.and_(
            flagged, Appointment.status.in_(ACTIVE_STATUSES), Appointment.starts_at >= utcnow()
        )
        query = query.where(risky if at_risk else sa.not_(risky))
    if location is not None:
        query = query.join(Appointment.location).where(Location.code == location)
    if starts_from is not None:
        query = query.where(Appointment.ends_at > starts_from)
    if starts_before is not None:
        query = query.where(Appointment.starts_at < starts_before)
    if status is not None:
        query = query.where(Appointment.status == status)
    return query


# -- checks -------------------------------------------------------------------------------------


def check_values(booking: BookingRequest) -> None:
    """422 for what no database read is needed to refuse: naive or fractional times, bad enums."""
    errors: dict[str, list[str]] = {}
    for name in ("starts_at", "ends_at"):
        message = _time_problem(getattr(booking, name))
        if message:
            errors[name] = [message]
    if not errors and booking.ends_at <= booking.starts_at:
        errors["ends_at"] = ["Must be after starts_at."]
    for name, longest in (("external_id", 100), ("patient_ref", 64), ("location", 16)):
        if not is_printable_id(getattr(booking, name), longest):
            errors[name] = [f"1 to {longest} printable characters."]
    if "patient_ref" not in errors and (
        problem := referrals.patient_ref_problem(booking.patient_ref)
    ):
        errors["patient_ref"] = [problem]
    for name, allowed in (
        ("kind", APPOINTMENT_KINDS),
        ("indication", INDICATIONS),
        ("status", APPOINTMENT_STATUSES),
    ):
        if getattr(booking, name) not in allowed:
            errors[name] = [f"Must be one of: {', '.join(allowed)}."]
    if errors:
        raise InvalidInput("The appointment is not valid.", errors=errors)


def _time_problem(value: dt.datetime) -> str | None:
    if value.tzinfo is None or value.utcoffset() is None:
        return "Give a UTC offset (e.g. 2026-12-01T09:00:00-05:00)."
    if value.second or value.microsecond:
        return "Appointment times are whole minutes."
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return "Out of range."
    return None


def is_printable_id(value: str, longest: int) -> bool:
    """1..longest characters, none a control character (PostgreSQL refuses NUL outright)."""
    return 0 < len(value) <= longest and value.isprintable()


def check_started(status: str, starts_at: dt.datetime) -> None:
    """``not_started``: an appointment cannot have been completed or missed before it starts."""
    if status in HAPPENED_STATUSES and starts_at > utcnow():
        raise Conflict(
            f"The appointment starts at {starts_at:%Y-%m-%d %H:%M} UTC: it cannot be {status} yet.",
            code=NOT_STARTED,
        )


def check_transition(current: str, new: str) -> None:
    if current == new:
        return
    if current in FINAL_STATUSES or new not in NEXT_STATUSES:
        raise Conflict(
            f"An appointment cannot move from {current} to {new}.", code=INVALID_TRANSITION
        )


def check_rules(
    session: Session,
    room: Room,
    booking: BookingRequest,
    values: dict,
    exclude_id: int | None = None,
) -> None:
    """Every booking rule for putting ``booking`` in ``room`` (the room locked).

    The order is the order of the answers: where the room is, whether it is open, whether a
    chair is free, who takes it, the site's licence, the clinician's and the patient's other
    appointments, the referral."""
    location = values["location"]
    starts_at, ends_at = values["starts_at"], values["ends_at"]
    check_room_suits(room, location, booking.kind)
    check_not_closed(session, room, starts_at, ends_at)
    check_open(location, starts_at, ends_at)
    active = booking.status != "cancelled"
    if active:
        check_capacity(session, room, starts_at, ends_at, exclude_id)
    check_eligible(session, booking.staff_id, location, starts_at, booking.kind)
    if booking.kind == "infusion":
        check_site_licensed(session, location, locations.local_date(location, starts_at))
    if active:
        lock_people(session, booking.staff_id, booking.patient_ref)
        check_staff_free(session, booking.staff_id, location, starts_at, ends_at, exclude_id)
        check_patient_free(session, booking.patient_ref, starts_at, ends_at, exclude_id)
    if values["referral"] is not None:
        referrals.check_referral_location(values["referral"], booking.kind, location.id)
        referrals.check_referral_allows(session, values["referral"], booking.kind)


def check_room_suits(room: Room, location: Location, kind: str) -> None:
    if room.location_id != location.id:
        raise Conflict(f"Room {room.id} is not at {location.code}.", code=ROOM_NOT_AT_LOCATION)
    if room.kind != ROOM_KIND_FOR[kind]:
        raise Conflict(
            f"A {kind} needs a {ROOM_KIND_FOR[kind]} room; room {room.id} is a {room.kind} room.",
            code=ROOM_KIND_MISMATCH,
        )


def check_not_closed(
    session: Session, room: Room, starts_at: dt.datetime, ends_at: dt.datetime
) -> None:
    """``location_closed`` for a site out of service or a holiday on any day of the slot;
    ``room_closed`` for a room out of service or under maintenance then."""
    location = room.location
    if not location.active:
        raise Conflict(f"{location.code} is not in service.", code=LOCATION_CLOSED)
    if location_closed_between(location, starts_at, ends_at):
        raise Conflict(f"{location.code} is closed that day.", code=LOCATION_CLOSED)
    if not room.active:
        raise Conflict(f"Room {room.id} is not in service.", code=ROOM_CLOSED)
    closure = session.scalar(
        sa.select(RoomClosure.id).where(
            RoomClosure.room_id == room.id,
            RoomClosure.starts_at < ends_at,
            RoomClosure.ends_at > starts_at,
        )
    )
    if closure is not None:
        raise Conflict(f"Room {room.id} is closed for maintenance then.", code=ROOM_CLOSED)


def location_closed_between(
    location: Location, starts_at: dt.datetime, ends_at: dt.datetime
) -> bool:
    """True when a holiday closure of the location covers any local day of [starts_at, ends_at)."""
    first = locations.local_date(location, starts_at)
    last = locations.local_date(location, ends_at - dt.timedelta(microseconds=1))
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return any(locations.is_closed_on(location, day) for day in days)


def check_open(location: Location, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if not locations.is_open_between(location, starts_at, ends_at):
        raise Conflict(
            f"{location.code} is not open for the whole appointment.", code=OUTSIDE_OPENING_HOURS
        )


def overlapping(starts_at: dt.datetime, ends_at: dt.datetime) -> tuple[sa.ColumnElement, ...]:
    """The conditions for an appointment overlapping [starts_at, ends_at) (half-open)."""
    return (
        Appointment.starts_at < ends_at,
        Appointment.starts_at > starts_at - LONGEST_APPOINTMENT,
        Appointment.ends_at > starts_at,
    )


def check_capacity(
    session: Session,
    room: Room,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_id: int | None = None,
) -> None:
    """At no instant may more than ``room.capacity`` non-cancelled appointments overlap."""
    query = sa.select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.room_id == room.id,
        Appointment.status != "cancelled",
        *overlapping(starts_at, ends_at),
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    taken = max_overlap(session.execute(query), starts_at, ends_at)
    if taken >= room.capacity:
        raise Conflict(
            f"Room {room.id} has no free chair for the whole appointment "
            f"({taken} of {room.capacity} taken).",
            code=ROOM_AT_CAPACITY,
        )


def check_eligible(
    session: Session, staff_id: int, location: Location, starts_at: dt.datetime, kind: str
) -> None:
    on = locations.local_date(location, starts_at)
    answer = eligibility(session, staff_id, location.id, on, kind)
    if not answer.eligible:
        raise Conflict(
            f"Staff member {staff_id} may not take a {kind} at {location.code} on {on}.",
            code=STAFF_NOT_ELIGIBLE,
            errors={"missing": answer.missing},
        )


def check_site_licensed(session: Session, location: Location, day: dt.date) -> None:
    """``site_not_licensed``: the site lacks a registration its state requires (SiteRule)."""
    missing = missing_registrations(session, location, day)
    if missing:
        raise Conflict(
            f"{location.code} has no valid {' or '.join(missing)} on {day}: it cannot take "
            "infusions.",
            code=SITE_NOT_LICENSED,
            errors={"missing": missing},
        )


def lock_people(session: Session, staff_id: int, patient_ref: str) -> None:
    """Serialise bookings of one clinician and of one patient (PostgreSQL; SQLite's BEGIN
    IMMEDIATE already serialises every booking): the clinician's row, then an advisory lock
    on the patient reference, both held to the end of the transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        sa.select(StaffMember.id)
        .where(StaffMember.id == staff_id)
        # NO KEY UPDATE: other sites' appointments referencing the row (KEY SHARE) still insert.
        .with_for_update(key_share=True)
    )
    session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(PATIENT_LOCK_SPACE, sa.func.hashtext(patient_ref)))
    )


def _others_overlapping(
    starts_at: dt.datetime, ends_at: dt.datetime, exclude_id: int | None
) -> sa.Select:
    query = sa.select(Appointment.external_id).where(
        Appointment.status != "cancelled", *overlapping(starts_at, ends_at)
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    return query.limit(1)


def check_staff_free(
    session: Session,
    staff_id: int,
    location: Location,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_id: int | None = None,
) -> None:
    """``staff_double_booked``: the clinician has an overlapping appointment at another site
    (at the same site one clinician supervises several chairs)."""
    clash = session.scalar(
        _others_overlapping(starts_at, ends_at, exclude_id).where(
            Appointment.staff_id == staff_id, Appointment.location_id != location.id
        )
    )
    if clash is not None:
        raise Conflict(
            f"Staff member {staff_id} has appointment {clash!r} at another location then.",
            code=STAFF_DOUBLE_BOOKED,
        )


def check_patient_free(
    session: Session,
    patient_ref: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude_id: int | None = None,
) -> None:
    """``patient_double_booked``: the patient has an overlapping appointment anywhere."""
    clash = session.scalar(
        _others_overlapping(starts_at, ends_at, exclude_id).where(
            Appointment.patient_ref == patient_ref
        )
    )
    if clash is not None:
        raise Conflict(
            f"The patient has appointment {clash!r} overlapping this one.",
            code=PATIENT_DOUBLE_BOOKED,
        )


def max_overlap(
    intervals: Iterable[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime
) -> int:
    """The most of ``intervals`` overlapping at any instant of [start, end) (half-open intervals)."""
    events: list[tuple[dt.datetime, int]] = []
    for begins, ends in intervals:
        if begins < end and ends > start:
            events.append((max(begins, start), 1))
            events.append((min(ends, end), -1))
    # At the same instant an ending (-1) sorts before a beginning (+1): half-open intervals.
    events.sort()
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


# -- persistence --------------------------------------------------------------------------------


def lock_room(session: Session, room_id: int) -> Room:
    """Take the room's row lock (FOR UPDATE; on SQLite the transaction's write lock is it)."""
    room = session.scalars(
        sa.select(Room)
        .where(Room.id == room_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if room is None:
        raise InvalidInput(f"No room {room_id}.", errors={"room_id": [f"No room {room_id}."]})
    return room


def _resolve(session: Session, booking: BookingRequest) -> dict:
    """The request as column values, its references checked (unknown ones are 422)."""
    location = session.scalar(sa.select(Location).where(Location.code == booking.location))
    referral = None
    errors: dict[str, list[str]] = {}
    if location is None:
        errors["location"] = [f"No location {booking.location!r}."]
    if session.get(StaffMember, booking.staff_id) is None:
        errors["staff_id"] = [f"No staff member {booking.staff_id}."]
    if booking.referral_id is not None:
        referral = session.get(Referral, booking.referral_id)
        if referral is None:
            errors["referral_id"] = [f"No referral {booking.referral_id}."]
    if errors:
        raise InvalidInput("The appointment refers to what does not exist.", errors=errors)
    values = {f.name: getattr(booking, f.name) for f in fields(booking) if f.name != "location"}
    values["starts_at"] = booking.starts_at.astimezone(dt.UTC)
    values["ends_at"] = booking.ends_at.astimezone(dt.UTC)
    return values | {"location_id": location.id, "location": location, "referral": referral}


def _find(
    session: Session, external_id: str, *, lock: bool = False, with_location: bool = False
) -> Appointment | None:
    if not is_printable_id(external_id, 100):
        return None  # no such id can have been stored
    query = sa.select(Appointment).where(Appointment.external_id == external_id)
    if with_location:
        query = query.options(joinedload(Appointment.location))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def _changes(appointment: Appointment, values: dict) -> dict:
    columns = [name for name in values if name not in ("location", "referral", "external_id")]
    return {name: values[name] for name in columns if getattr(appointment, name) != values[name]}


def _create(session: Session, values: dict) -> Appointment:
    columns = {k: v for k, v in values.items() if k not in ("location", "referral")}
    appointment = Appointment(**columns)
    rules_passed(session, appointment)
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError as error:
        # Another request created the same external_id between our read and our insert.
        if _find(session, values["external_id"]) is None:
            raise
        raise Conflict(
            f"Appointment {values['external_id']!r} was created by a concurrent request.",
            code=DUPLICATE,
        ) from error
    # It passed every rule: not at risk, and no query to find that out when it is presented.
    set_committed_value(appointment, "risks", [])
    _tell_referral(session, appointment, None, None)
    return appointment


def rules_passed(session: Session, appointment: Appointment) -> None:
    """Note that ``appointment`` has just passed every booking rule (it is not at risk)."""
    session.info.setdefault(RULES_PASSED, set()).add(appointment)


def _update(session: Session, appointment: Appointment, changes: dict) -> Appointment:
    previous_status, previous_kind = appointment.status, appointment.kind
    for name, value in changes.items():
        setattr(appointment, name, value)
    session.flush()
    _tell_referral(session, appointment, previous_status, previous_kind)
    return appointment


def _tell_referral(
    session: Session,
    appointment: Appointment,
    previous_status: str | None,
    previous_kind: str | None,
) -> None:
    if appointment.referral_id is not None:
        referrals.appointment_changed(session, appointment, previous_status, previous_kind)
