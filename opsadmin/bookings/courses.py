"""Treatment courses: a referral's infusion series booked in one call, and the earliest course.

A ketamine induction is a course of sessions, not one appointment. :func:`book_course` books all
of a referral's sessions in one transaction or none: each session is an ordinary infusion put
through :func:`opsadmin.bookings.service.book_appointment` — every booking rule, and the
referral's automatic moves, exactly as a single PUT — and a refusal names the session (``session``,
0-based, in the problem). Spacing is the course's own rule: consecutive sessions on different local
days, at most ``OPSADMIN_COURSE_MAX_GAP_DAYS`` (7) days apart.

:func:`course_options` proposes the earliest course at the treatment location: the window's slots
(:func:`opsadmin.bookings.availability.free_slots`), eligible clinicians, the patient's own
appointments and the clinicians' appointments elsewhere are loaded once, then the search runs in
memory, so its cost in queries does not grow with the number of candidate slots.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from opsadmin.bookings.availability import MAX_DURATION_MINUTES, Slot, bookable_location, free_slots
from opsadmin.bookings.models import Appointment
from opsadmin.bookings.service import (
    BookingRequest,
    book_appointment,
    lock_room,
    overlapping,
)
from opsadmin.config import setting
from opsadmin.db import begin_immediate, utcnow
from opsadmin.errors import (
    COURSE_SPACING,
    DUPLICATE,
    NO_COURSE_AVAILABLE,
    REFERRAL_NOT_APPROVED,
    Conflict,
    DomainError,
    InvalidInput,
)
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date, local_datetime
from opsadmin.referrals.models import Referral
from opsadmin.referrals.service import get_referral
from opsadmin.staff.eligibility import eligible_staff_by_day
from opsadmin.staff.models import StaffMember

# A course may be booked (or proposed) while the referral is approved or already in treatment.
COURSE_STATUSES = ("approved", "treatment_scheduled", "in_treatment")
MAX_COURSE_SESSIONS = 30
# course-options looks this many local days ahead of its first day for the whole course.
OPTIONS_WINDOW_DAYS = 42
DEFAULT_SESSION_MINUTES = 120

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class CourseSession:
    """One session of a course as the booking system sends it."""

    external_id: str
    room_id: int
    staff_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class BookedCourse:
    referral_id: int
    appointments: list[Appointment]


@dataclass(frozen=True)
class ProposedSession:
    room_id: int
    staff_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class CourseProposal:
    referral_id: int
    location: Location
    sessions: list[ProposedSession]


def max_gap_days() -> int:
    return int(setting("OPSADMIN_COURSE_MAX_GAP_DAYS"))


# -- booking -------------------------------------------------------------------------------------


def book_course(
    session: Session, referral_id: int, sessions: Sequence[CourseSession]
) -> BookedCourse:
    """Book every session of the referral's course as an infusion at its treatment location, or
    none: the caller commits on success and rolls back on any error.

    Opens the transaction as the writer (SQLite) and locks every room of the course in one order
    (PostgreSQL) before booking, so two concurrent courses serialise and never deadlock.
    """
    _check_sessions(sessions)
    begin_immediate(session)
    referral = course_referral(session, referral_id)
    check_spacing(referral.treatment_location, [s.starts_at for s in sessions])
    _check_new(session, sessions)
    first_use: dict[int, int] = {}
    for index, course_session in enumerate(sessions):
        first_use.setdefault(course_session.room_id, index)
    for room_id in sorted(first_use):
        with session_index(first_use[room_id]):
            lock_room(session, room_id)
    appointments = []
    for index, course_session in enumerate(sessions):
        with session_index(index):
            appointment, _ = book_appointment(session, _booking(referral, course_session))
        appointments.append(appointment)
    return BookedCourse(referral.id, appointments)


@contextmanager
def session_index(index: int) -> Iterator[None]:
    """Name the course's session in any refusal raised inside (the problem's ``session``)."""
    try:
        yield
    except DomainError as error:
        error.extensions.setdefault("session", index)
        error.message = f"Session {index}: {error.message}"
        raise


def _booking(referral: Referral, course_session: CourseSession) -> BookingRequest:
    return BookingRequest(
        external_id=course_session.external_id,
        location=referral.treatment_location.code,
        room_id=course_session.room_id,
        staff_id=course_session.staff_id,
        kind="infusion",
        indication=referral.indication,
        patient_ref=referral.patient_ref,
        starts_at=course_session.starts_at,
        ends_at=course_session.ends_at,
        referral_id=referral.id,
    )


def _check_sessions(sessions: Sequence[CourseSession]) -> None:
    if not 1 <= len(sessions) <= MAX_COURSE_SESSIONS:
        message = f"A course has 1 to {MAX_COURSE_SESSIONS} sessions."
        raise InvalidInput(message, errors={"sessions": [message]})
    seen: set[str] = set()
    for index, course_session in enumerate(sessions):
        if course_session.external_id in seen:
            message = f"external_id {course_session.external_id!r} is given twice."
            raise InvalidInput(
                message,
                errors={"sessions": {str(index): {"external_id": [message]}}},
                extensions={"session": index},
            )
        seen.add(course_session.external_id)


def _check_new(session: Session, sessions: Sequence[CourseSession]) -> None:
    """A course books new appointments: an external id already stored is ``duplicate``."""
    ids = [s.external_id for s in sessions]
    taken = set(
        session.scalars(sa.select(Appointment.external_id).where(Appointment.external_id.in_(ids)))
    )
    for index, external_id in enumerate(ids):
        if external_id in taken:
            raise Conflict(
                f"Session {index}: appointment {external_id!r} exists already.",
                code=DUPLICATE,
                extensions={"session": index},
            )


def course_referral(session: Session, referral_id: int) -> Referral:
    """The referral, which must be approved or in treatment to take a course."""
    referral = get_referral(session, referral_id)
    if referral.status not in COURSE_STATUSES:
        raise Conflict(
            f"Referral {referral.id} is {referral.status}: a course needs it approved "
            "or in treatment.",
            code=REFERRAL_NOT_APPROVED,
        )
    return referral


def check_spacing(location: Location, starts: Sequence[dt.datetime]) -> None:
    """Consecutive sessions (by start) on different local days, at most the gap apart (422)."""
    gap = max_gap_days()
    order = sorted(range(len(starts)), key=lambda i: starts[i])
    for earlier, later in zip(order, order[1:], strict=False):
        apart = (local_date(location, starts[later]) - local_date(location, starts[earlier])).days
        if apart == 0:
            message = f"Sessions {earlier} and {later} fall on the same local day."
        elif apart > gap:
            message = f"Sessions {earlier} and {later} are {apart} days apart (at most {gap})."
        else:
            continue
        raise InvalidInput(
            message,
            code=COURSE_SPACING,
            errors={"sessions": [message]},
            extensions={"session": later},
        )


# -- the earliest course -------------------------------------------------------------------------


def course_options(
    session: Session,
    referral_id: int,
    *,
    start_day: dt.date | None = None,
    sessions: int | None = None,
    duration: int = DEFAULT_SESSION_MINUTES,
    now: dt.datetime | None = None,
) -> CourseProposal:
    """The earliest course of ``sessions`` infusions of ``duration`` minutes at the referral's
    treatment location from its local ``start_day`` (today there), the whole course within
    OPTIONS_WINDOW_DAYS; Conflict(no_course_available) when none fits.

    "Earliest" is the course whose first session is earliest, then its second, and so on; each
    session takes the first start of its day with a free chair, no overlap with the patient's
    appointments and an eligible clinician who is not booked at another site then.
    """
    now = now or utcnow()
    referral = course_referral(session, referral_id)
    count = sessions if sessions is not None else _remaining(referral)
    _check_options(count, duration)
    location = bookable_location(session, referral.treatment_location.code)
    first = start_day or local_date(location, now)
    days = [first + dt.timedelta(days=n) for n in range(OPTIONS_WINDOW_DAYS)]
    candidates = _candidates(session, referral, location, days, duration, now)
    chosen = earliest_days(sorted(candidates), count, max_gap_days())
    if chosen is None:
        raise Conflict(
            f"No course of {count} sessions fits at {location.code} within "
            f"{OPTIONS_WINDOW_DAYS // 7} weeks of {first}.",
            code=NO_COURSE_AVAILABLE,
        )
    return CourseProposal(referral.id, location, [candidates[day] for day in chosen])


def _remaining(referral: Referral) -> int:
    return max(1, referral.planned_sessions - referral.sessions_completed)


def _check_options(count: int, duration: int) -> None:
    errors: dict[str, list[str]] = {}
    if not 1 <= count <= MAX_COURSE_SESSIONS:
        errors["sessions"] = [f"Between 1 and {MAX_COURSE_SESSIONS}."]
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        errors["duration"] = [f"Minutes between 1 and {MAX_DURATION_MINUTES}."]
    if errors:
        raise InvalidInput("A course proposal needs sessions and a duration.", errors=errors)


def _candidates(
    session: Session,
    referral: Referral,
    location: Location,
    days: list[dt.date],
    duration: int,
    now: dt.datetime,
) -> dict[dt.date, ProposedSession]:
    """Each day's first bookable session (days without one are left out)."""
    window = (
        local_datetime(location, days[0], dt.time()),
        local_datetime(location, days[-1] + dt.timedelta(days=1), dt.time()),
    )
    slots = free_slots(session, location, days, "infusion", duration)
    staff = eligible_staff_by_day(session, location.id, days, "infusion", location=location)
    patient = _patient_busy(session, referral.patient_ref, window)
    elsewhere = _busy_elsewhere(session, location.id, _ids(staff), window)
    found: dict[dt.date, ProposedSession] = {}
    for day in days:
        for slot in slots[day]:
            if slot.starts_at < now or _overlaps(patient, slot):
                continue
            clinician = next((s for s in staff[day] if not _overlaps(elsewhere[s.id], slot)), None)
            if clinician is not None:
                found[day] = ProposedSession(
                    slot.room_id, clinician.id, slot.starts_at, slot.ends_at
                )
                break
    return found


def _ids(staff: dict[dt.date, list[StaffMember]]) -> set[int]:
    return {member.id for members in staff.values() for member in members}


def _overlaps(intervals: list[Interval], slot: Slot) -> bool:
    return any(start < slot.ends_at and end > slot.starts_at for start, end in intervals)


def _patient_busy(session: Session, patient_ref: str, window: Interval) -> list[Interval]:
    """The patient's non-cancelled appointments anywhere in the window: a patient sits in one chair."""
    rows = session.execute(
        sa.select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.patient_ref == patient_ref,
            Appointment.status != "cancelled",
            *overlapping(*window),
        )
    )
    return [(start, end) for start, end in rows]


def _busy_elsewhere(
    session: Session, location_id: int, staff_ids: set[int], window: Interval
) -> dict[int, list[Interval]]:
    """The clinicians' non-cancelled appointments at other sites: they cannot be in two places."""
    found: dict[int, list[Interval]] = defaultdict(list)
    if not staff_ids:
        return found
    rows = session.execute(
        sa.select(Appointment.staff_id, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.staff_id.in_(staff_ids),
            Appointment.location_id != location_id,
            Appointment.status != "cancelled",
            *overlapping(*window),
        )
    )
    for staff_id, start, end in rows:
        found[staff_id].append((start, end))
    return found


def earliest_days(days: list[dt.date], count: int, gap: int) -> list[dt.date] | None:
    """The lexicographically earliest ``count`` of ``days`` (sorted) with consecutive ones 1 to
    ``gap`` days apart, or None.

    ``reach[d]`` is the longest such chain starting on ``d`` (capped at ``count``), computed from
    the last day backwards; the chain is then walked forward taking the first day that can still
    finish the course.
    """
    reach: dict[dt.date, int] = {}
    for index in range(len(days) - 1, -1, -1):
        day = days[index]
        after = [reach[d] for d in _following(days, index, gap)]
        reach[day] = min(count, 1 + max(after, default=0))
    chosen: list[dt.date] = []
    options = days
    while len(chosen) < count:
        needed = count - len(chosen)
        day = next((d for d in options if reach[d] >= needed), None)
        if day is None:
            return None
        chosen.append(day)
        options = _following(days, days.index(day), gap)
    return chosen


def _following(days: list[dt.date], index: int, gap: int) -> list[dt.date]:
    """The days after ``days[index]`` at most ``gap`` days later."""
    last = days[index] + dt.timedelta(days=gap)
    return [d for d in days[index + 1 :] if d <= last]


# -- presenting a course -------------------------------------------------------------------------


def course_appointments(session: Session, referral_id: int) -> list[Appointment]:
    """The referral's infusions by start (its course as booked), with rooms and clinicians."""
    return list(
        session.scalars(
            sa.select(Appointment)
            .where(Appointment.referral_id == referral_id, Appointment.kind == "infusion")
            .options(selectinload(Appointment.room), selectinload(Appointment.staff))
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
