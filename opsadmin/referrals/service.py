"""The referral state machine, screening, and the moves appointments drive.

Every status change goes through :func:`move_referral`, which checks :data:`TRANSITIONS` and
records a :class:`ReferralEvent`; creation records the event into ``received``.

The booking service calls :func:`check_referral_allows` before it books, and
:func:`appointment_changed` after it creates or changes an appointment linked to a referral.

Actors: an event's actor is :func:`opsadmin.audit.service.current_actor` — the user of a console
action, the API key of an API call, ``system`` for jobs and the CLI. Automatic moves are recorded
with the actor whose appointment call caused them (the booking system's API key, normally), so
the referral's history and the audit log name the same caller; their reason starts with
``automatic:`` so they stay distinguishable from explicit transitions.

Over 500 lines on purpose: the explicit transitions, the screening rules and the moves that
appointments drive all read :data:`TRANSITIONS` and must be changed together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.audit.service import current_actor
from opsadmin.config import setting
from opsadmin.db import Base, utcnow
from opsadmin.errors import (
    INVALID_TRANSITION,
    REFERRAL_LOCATION_MISMATCH,
    REFERRAL_NOT_APPROVED,
    Conflict,
    InvalidInput,
    NotFound,
)
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date
from opsadmin.referrals.models import (
    CONTRAINDICATIONS,
    FINAL_REFERRAL_STATUSES,
    INDICATIONS,
    REFERRAL_STATUSES,
    Referral,
    ReferralEvent,
    Screening,
)
from opsadmin.staff.eligibility import eligibility
from opsadmin.staff.models import StaffMember

# The state machine: from each status, the statuses it may move to. Final statuses go nowhere.
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"consult_scheduled", "withdrawn"}),
    # → received: the consult was cancelled (or missed) and has to be booked again.
    "consult_scheduled": frozenset({"consulted", "received", "withdrawn"}),
    "consulted": frozenset({"approved", "declined", "withdrawn"}),
    "approved": frozenset({"treatment_scheduled", "withdrawn"}),
    "treatment_scheduled": frozenset({"in_treatment", "withdrawn"}),
    "in_treatment": frozenset({"completed", "withdrawn"}),
    "declined": frozenset(),
    "completed": frozenset(),
    "withdrawn": frozenset(),
}
# Transitions that are a clinical decision: they need the consult's screening.
SCREENED_TRANSITIONS = ("approved", "declined")
# Where a referral may have infusions booked: approved, or further along the treatment path.
TREATMENT_PATH = ("approved", "treatment_scheduled", "in_treatment", "completed")
ACTIVE_APPOINTMENT_STATUSES = ("booked", "checked_in")
DEFAULT_PLANNED_SESSIONS = 6
NPI_PREFIX = "80840"


def appointments() -> sa.Table:
    """The bookings feature's appointment table, as the metadata holds it (every model is
    registered before the first query). Looked up, not imported: bookings depends on referrals
    (a booking may carry a referral), never the other way round."""
    return Base.metadata.tables["appointment"]


# -- creation ------------------------------------------------------------------------------------


def npi_is_valid(npi: str) -> bool:
    """A US National Provider Identifier: 10 digits whose last is the Luhn check digit of
    the card-issuer prefix 80840 followed by the first nine."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(NPI_PREFIX + npi)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


@dataclass(frozen=True)
class ReferralRequest:
    """What a new referral is made of; locations are given by their codes (``GRN``)."""

    patient_ref: str
    indication: str
    provider_name: str
    provider_npi: str
    received_on: dt.date
    consult_location: str
    treatment_location: str | None = None  # None: treated where consulted
    provider_practice: str = ""
    planned_sessions: int = DEFAULT_PLANNED_SESSIONS


def create_referral(session: Session, request: ReferralRequest) -> Referral:
    """Validate and add a referral in ``received``, with its creation event.

    InvalidInput lists every bad field at once: patient_ref, indication, the NPI (check digit),
    unknown or inactive locations, planned_sessions < 1.
    """
    errors: dict[str, Any] = {}
    _check_referral_fields(request, errors)
    consult = _active_location(session, request.consult_location, "consult_location", errors)
    treatment = _active_location(
        session,
        request.treatment_location or request.consult_location,
        "treatment_location",
        errors,
    )
    if errors:
        raise InvalidInput("The referral is not valid.", errors=errors)
    referral = Referral(
        patient_ref=request.patient_ref.strip(),
        indication=request.indication,
        referring_provider_name=request.provider_name.strip(),
        referring_provider_npi=request.provider_npi,
        referring_provider_practice=request.provider_practice.strip(),
        received_on=request.received_on,
        consult_location=consult,
        treatment_location=treatment,
        planned_sessions=request.planned_sessions,
        sessions_completed=0,
        status="received",
        status_changed_at=utcnow(),
    )
    session.add(referral)
    _record_event(referral, None, "received", reason="referral received")
    session.flush()
    return referral


def patient_ref_problem(value: str) -> str | None:
    """Why ``value`` is not an opaque patient reference (OPSADMIN_PATIENT_REF_PATTERN), or None.

    The pattern allows no spaces, so a name — "John Smith DOB 1980-01-01" — is refused."""
    pattern = setting("OPSADMIN_PATIENT_REF_PATTERN")
    if re.fullmatch(pattern, value or "") is None:
        return (
            "Not an opaque patient reference (letters, digits and . _ : - only, no spaces; "
            "never a name)."
        )
    return None


def _check_referral_fields(request: ReferralRequest, errors: dict[str, Any]) -> None:
    if not request.patient_ref.strip():
        errors["patient_ref"] = ["The booking system's patient reference is required."]
    elif problem := patient_ref_problem(request.patient_ref.strip()):
        errors["patient_ref"] = [problem]
    if request.indication not in INDICATIONS:
        errors["indication"] = [f"Must be one of: {', '.join(INDICATIONS)}."]
    provider: dict[str, list[str]] = {}
    if not request.provider_name.strip():
        provider["name"] = ["The referring provider's name is required."]
    if not npi_is_valid(request.provider_npi):
        provider["npi"] = ["Not a valid NPI: 10 digits with a correct check digit."]
    if provider:
        errors["referring_provider"] = provider
    if request.planned_sessions < 1:
        errors["planned_sessions"] = ["At least one session must be planned."]


def _active_location(
    session: Session, code: str, field: str, errors: dict[str, Any]
) -> Location | None:
    location = session.scalar(sa.select(Location).where(Location.code == code))
    if location is None:
        errors[field] = [f"Unknown location {code!r}."]
    elif not location.active:
        errors[field] = [f"Location {code} is not active."]
    return location


# -- the one place a status changes --------------------------------------------------------------


def move_referral(session: Session, referral: Referral, to: str, *, reason: str = "") -> None:
    """Move ``referral`` to ``to`` now if the state machine allows it, recording the event.

    Conflict(invalid_transition) otherwise, with nothing changed. Entering ``completed`` sets
    the follow-up due date.
    """
    record_transition(referral, to, at=utcnow(), reason=reason)
    if to == "completed":
        referral.follow_up_due_on = follow_up_due_on(session, referral)


def record_transition(referral: Referral, to: str, *, at: dt.datetime, reason: str = "") -> None:
    """The state machine's step: Conflict(invalid_transition) unless :data:`TRANSITIONS` allow
    ``to``; else the event (by the current actor, at ``at``) and the new status."""
    if to not in TRANSITIONS.get(referral.status, frozenset()):
        raise Conflict(
            f"A referral in {referral.status} cannot move to {to}.", code=INVALID_TRANSITION
        )
    _record_event(referral, referral.status, to, reason=reason, at=at)
    referral.status = to
    referral.status_changed_at = at


def _record_event(
    referral: Referral, from_status: str | None, to: str, *, reason: str,
    at: dt.datetime | None = None,
) -> None:  # fmt: skip
    actor = current_actor()
    # ReferralEvent knows three kinds of actor; an unauthenticated caller never gets this far.
    actor_type = actor.type if actor.type in ("user", "api_key") else "system"
    referral.events.append(
        ReferralEvent(
            from_status=from_status,
            to_status=to,
            actor_type=actor_type,
            actor_id=actor.id if actor_type != "system" else None,
            actor_label=actor.label,
            at=at or utcnow(),
            reason=reason,
        )
    )


def follow_up_due_on(session: Session, referral: Referral) -> dt.date:
    """OPSADMIN_FOLLOW_UP_DAYS after the last completed infusion's local date at the treatment
    location (today there, when the course is closed without one)."""
    last = session.scalar(
        sa.select(sa.func.max(appointments().c.starts_at)).where(
            appointments().c.referral_id == referral.id,
            appointments().c.kind == "infusion",
            appointments().c.status == "completed",
        )
    )
    day = local_date(referral.treatment_location, last or utcnow())
    return day + dt.timedelta(days=int(setting("OPSADMIN_FOLLOW_UP_DAYS")))


# -- explicit transitions (console and API) ------------------------------------------------------


@dataclass(frozen=True)
class ScreeningDecision:
    """The consult's screening: contraindication flags, the deciding physician, an override."""

    decided_by: int | None
    flags: tuple[str, ...] = ()
    override: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ScreeningDecision | None:
        if data is None:
            return None
        return cls(
            decided_by=data.get("decided_by"),
            flags=tuple(data.get("flags") or ()),
            override=(data.get("override") or "").strip(),
        )


def get_referral(session: Session, referral_id: int, *, lock: bool = False) -> Referral:
    """The referral, or NotFound; ``lock`` takes its row lock (PostgreSQL) for a status change."""
    referral = session.get(
        Referral, referral_id, with_for_update=lock or None, populate_existing=lock
    )
    if referral is None:
        raise NotFound(f"No referral {referral_id}.")
    return referral


def transition(
    session: Session,
    referral_id: int,
    to: str,
    reason: str = "",
    screening: ScreeningDecision | Mapping[str, Any] | None = None,
) -> Referral:
    """Move a referral on request: the state machine first (409 invalid_transition, nothing
    changed), then the screening an approval or a decline needs (422 under ``screening``)."""
    if to not in REFERRAL_STATUSES:
        raise InvalidInput(f"Unknown status {to!r}.", errors={"to": [f"Unknown status {to!r}."]})
    if isinstance(screening, Mapping):
        screening = ScreeningDecision.from_mapping(screening)
    referral = get_referral(session, referral_id, lock=True)
    if to not in TRANSITIONS[referral.status]:
        raise Conflict(
            f"A referral in {referral.status} cannot move to {to}.", code=INVALID_TRANSITION
        )
    if to in SCREENED_TRANSITIONS:
        referral.screenings.append(_checked_screening(session, referral, to, screening))
    elif screening is not None:
        _screening_refused("A screening is recorded only when approving or declining.")
    move_referral(session, referral, to, reason=(reason or "").strip())
    session.flush()
    return referral


def _screening_refused(message: str) -> None:
    raise InvalidInput(message, errors={"screening": [message]})


def _checked_screening(
    session: Session, referral: Referral, decision: str, screening: ScreeningDecision | None
) -> Screening:
    if screening is None:
        _screening_refused(f"Moving to {decision} needs the consult's screening.")
    physician = session.get(StaffMember, screening.decided_by) if screening.decided_by else None
    if physician is None or physician.role != "physician":
        _screening_refused(
            "A screening is decided by a physician: give their staff id as decided_by."
        )
    _check_physician_may_decide(session, referral, physician)
    unknown = sorted(set(screening.flags) - set(CONTRAINDICATIONS))
    if unknown:
        _screening_refused(f"Unknown contraindication flags: {', '.join(unknown)}.")
    flags = sorted(set(screening.flags))
    if decision == "approved" and flags and not screening.override:
        _screening_refused(
            f"Approving despite {', '.join(flags)} needs a written override by the physician."
        )
    return Screening(
        flags=flags,
        decided_by_id=physician.id,
        override=screening.override,
        decision=decision,
        decided_at=utcnow(),
    )


def _check_physician_may_decide(
    session: Session, referral: Referral, physician: StaffMember
) -> None:
    """The deciding physician must be eligible for a consult at the referral's consult location
    on the decision date (a licence for that site's state, assigned there)."""
    location = session.get(Location, referral.consult_location_id)
    on = local_date(location, utcnow())
    answer = eligibility(session, physician.id, location.id, on, "consult")
    if not answer.eligible:
        gaps = ", ".join(
            " ".join(str(gap[k]) for k in ("kind", "state", "reason") if k in gap)
            for gap in answer.missing
        )
        _screening_refused(
            f"Physician {physician.id} may not decide a consult at {location.code} on {on} "
            f"({gaps})."
        )


# -- hooks called by the booking service ---------------------------------------------------------


def check_referral_allows(session: Session, referral: Referral, kind: str) -> None:
    """Raise Conflict(code=referral_not_approved) when ``kind`` may not be booked for ``referral``.

    An infusion needs the referral approved (or further along the treatment path).
    """
    if kind == "infusion" and referral.status not in TREATMENT_PATH:
        raise Conflict(
            f"Referral {referral.id} is {referral.status}: infusions need it approved.",
            code=REFERRAL_NOT_APPROVED,
        )


def check_referral_location(referral: Referral, kind: str, location_id: int) -> None:
    """Raise Conflict(code=referral_location_mismatch) unless the appointment is where the
    referral sends it: its treatment location for infusions, its consult location otherwise."""
    expected = (
        referral.treatment_location_id if kind == "infusion" else referral.consult_location_id
    )
    if expected != location_id:
        where = "treatment" if kind == "infusion" else "consult"
        raise Conflict(
            f"Referral {referral.id} has its {where} at another location: a {kind} for it "
            "must be booked there.",
            code=REFERRAL_LOCATION_MISMATCH,
        )


@dataclass(frozen=True)
class AppointmentFacts:
    """How many of a referral's consults and infusions are booked (or checked in) and completed."""

    consults_active: int = 0
    consults_completed: int = 0
    infusions_active: int = 0
    infusions_completed: int = 0
    # The appointment at hand is a consult that was just cancelled or missed (or stopped being one).
    consult_dropped: bool = False


# The moves appointments drive, tried in order until none applies: (from, to, when, why).
AUTOMATIC_MOVES: tuple[tuple[str, str, Any, str], ...] = (
    (
        "received",
        "consult_scheduled",
        lambda f, r: f.consults_active + f.consults_completed > 0,
        "consult booked",
    ),
    ("consult_scheduled", "consulted", lambda f, r: f.consults_completed > 0, "consult completed"),
    (
        "consult_scheduled",
        "received",
        lambda f, r: f.consult_dropped and f.consults_active + f.consults_completed == 0,
        "consult cancelled",
    ),
    (
        "approved",
        "treatment_scheduled",
        lambda f, r: f.infusions_active + f.infusions_completed > 0,
        "first infusion booked",
    ),
    (
        "treatment_scheduled",
        "in_treatment",
        lambda f, r: f.infusions_completed > 0,
        "first infusion completed",
    ),
    (
        "in_treatment",
        "completed",
        lambda f, r: f.infusions_completed >= r.planned_sessions,
        "planned sessions completed",
    ),
)


def appointment_changed(
    session: Session, appointment, previous_status: str | None, previous_kind: str | None = None
) -> None:
    """Move the appointment's referral as the referral rules say (previous_status None = newly created).

    Booking a consult → consult_scheduled; completing it → consulted; booking the first infusion
    → treatment_scheduled; completing it → in_treatment; completing the planned number →
    completed (follow-up due set); cancelling the consult → back to received (a missed consult,
    ``no_show``, too: it has to be booked again, and ``received`` is where the stalled rule sees it).

    The moves are derived from the referral's appointments as they now stand, not from this one
    change alone, so a backfilled appointment (created already completed) takes every step, and
    a repeated call changes nothing. The referral row is locked first so that two infusions
    completed at once are both counted.
    """
    if appointment.referral_id is None:
        return
    session.flush()
    referral = get_referral(session, appointment.referral_id, lock=True)
    dropped = _consult_dropped(appointment, previous_kind)
    facts = dataclasses.replace(appointment_facts(session, referral.id), consult_dropped=dropped)
    if referral.sessions_completed != facts.infusions_completed:
        referral.sessions_completed = facts.infusions_completed
    label = f"{appointment.kind} {appointment.external_id} {appointment.status}"
    while (move := _next_automatic_move(referral, facts)) is not None:
        to, why = move
        move_referral(session, referral, to, reason=f"automatic: {why} ({label})")
    session.flush()


def _consult_dropped(appointment, previous_kind: str | None) -> bool:
    if appointment.kind == "consult":
        return appointment.status in ("cancelled", "no_show")
    return previous_kind == "consult"


def _next_automatic_move(referral: Referral, facts: AppointmentFacts) -> tuple[str, str] | None:
    for from_status, to, applies, why in AUTOMATIC_MOVES:
        if referral.status == from_status and applies(facts, referral):
            return to, why
    return None


def appointment_facts(session: Session, referral_id: int) -> AppointmentFacts:
    """Count the referral's consults and infusions by whether they are active or completed."""
    a = appointments().c
    rows = session.execute(
        sa.select(a.kind, a.status, sa.func.count())
        .where(a.referral_id == referral_id, a.kind.in_(("consult", "infusion")))
        .group_by(a.kind, a.status)
    ).all()
    counts: dict[str, int] = {}
    for kind, status, count in rows:
        if status in ACTIVE_APPOINTMENT_STATUSES:
            counts[f"{kind}s_active"] = counts.get(f"{kind}s_active", 0) + count
        elif status == "completed":
            counts[f"{kind}s_completed"] = count
    return AppointmentFacts(**counts)


# -- stalled referrals ---------------------------------------------------------------------------


def stalled_filter(as_of: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """A SQL condition on :class:`Referral` true for referrals stalled at ``as_of`` (default now).

    the domain rules, thresholds from configuration, each measured from ``status_changed_at`` (when the
    referral entered its current status):

    - ``received`` for more than OPSADMIN_STALLED_RECEIVED_DAYS (7) days;
    - ``consulted`` without a decision for more than OPSADMIN_STALLED_CONSULTED_DAYS (14);
    - ``approved`` with no first infusion for more than OPSADMIN_STALLED_APPROVED_DAYS (14)
      (booking one moves it on to ``treatment_scheduled``);
    - ``in_treatment`` with no future infusion booked.

    Use it in any ``select(...)`` that involves Referral: the API's ``stalled`` filter, the
    console's, and the follow-up report (group by ``Referral.status`` for the stages).
    """
    as_of = as_of or utcnow()

    def waiting(status: str, setting_name: str) -> sa.ColumnElement[bool]:
        cutoff = as_of - dt.timedelta(days=int(setting(setting_name)))
        return sa.and_(Referral.status == status, Referral.status_changed_at < cutoff)

    a = appointments().c
    future_session = (
        sa.select(a.id)
        .where(
            a.referral_id == Referral.id,
            a.kind == "infusion",
            a.status.in_(ACTIVE_APPOINTMENT_STATUSES),
            a.starts_at > as_of,
        )
        .exists()
    )
    return sa.or_(
        waiting("received", "OPSADMIN_STALLED_RECEIVED_DAYS"),
        waiting("consulted", "OPSADMIN_STALLED_CONSULTED_DAYS"),
        waiting("approved", "OPSADMIN_STALLED_APPROVED_DAYS"),
        sa.and_(Referral.status == "in_treatment", ~future_session),
    )


def is_final(status: str) -> bool:
    return status in FINAL_REFERRAL_STATUSES


def allowed_transitions(referral: Referral) -> list[str]:
    """The statuses this referral may be moved to, in the order of the journey."""
    allowed = TRANSITIONS[referral.status]
    return [status for status in REFERRAL_STATUSES if status in allowed]


# -- queries shared by the API, the console and the reports --------------------------------------


def at_location(location_id: int) -> sa.ColumnElement[bool]:
    """Referrals consulted or treated at the location."""
    return sa.or_(
        Referral.consult_location_id == location_id, Referral.treatment_location_id == location_id
    )


def in_regions(region_ids: set[int]) -> sa.ColumnElement[bool]:
    """Referrals whose consult or treatment location lies in one of the regions (console scoping)."""
    located = sa.select(Location.id).where(Location.region_id.in_(region_ids or {-1}))
    return sa.or_(
        Referral.consult_location_id.in_(located), Referral.treatment_location_id.in_(located)
    )


def filtered_referrals(
    session: Session,
    *,
    status: str | None = None,
    location: str | None = None,
    indication: str | None = None,
    stalled: bool | None = None,
) -> sa.Select:
    """Referrals matching the list filters, newest first (``location`` is a code: NotFound if
    unknown); a statement to page, not rows."""
    query = sa.select(Referral).order_by(Referral.received_on.desc(), Referral.id.desc())
    if status is not None:
        query = query.where(Referral.status == status)
    if indication is not None:
        query = query.where(Referral.indication == indication)
    if location is not None:
        found = session.scalar(sa.select(Location.id).where(Location.code == location))
        if found is None:
            raise NotFound(f"No location {location!r}.")
        query = query.where(at_location(found))
    if stalled is not None:
        query = query.where(stalled_filter() if stalled else ~stalled_filter())
    return query


# -- the funnel: how far the referrals received in a window got -----------------------------------
# Stage → the statuses that prove a referral reached it (its own and every later one).
FUNNEL: dict[str, tuple[str, ...] | None] = {
    "received": None,
    "consulted": (
        "consulted",
        "approved",
        "declined",
        "treatment_scheduled",
        "in_treatment",
        "completed",
    ),
    "approved": ("approved", "treatment_scheduled", "in_treatment", "completed"),
    "started": ("in_treatment", "completed"),
    "completed": ("completed",),
}


def funnel_reached(stage: str) -> sa.ColumnElement[bool]:
    """SQL on :class:`Referral`: it reached ``stage`` (is in, or has passed through, one of the
    stage's statuses)."""
    statuses = FUNNEL[stage]
    if statuses is None:
        return sa.true()
    event = (
        sa.select(ReferralEvent.id)
        .where(ReferralEvent.referral_id == Referral.id, ReferralEvent.to_status.in_(statuses))
        .exists()
    )
    return sa.or_(Referral.status.in_(statuses), event)


def funnel_window(as_of: dt.date, days: int | None = None) -> sa.ColumnElement[bool]:
    """Received in the ``days`` (OPSADMIN_FUNNEL_DAYS) days before ``as_of``."""
    days = int(setting("OPSADMIN_FUNNEL_DAYS")) if days is None else days
    since = as_of - dt.timedelta(days=days)
    return sa.and_(Referral.received_on >= since, Referral.received_on < as_of)


def in_funnel_stage(stage: str, as_of: dt.date) -> sa.ColumnElement[bool]:
    """Received in the funnel's window and reached ``stage``: the follow-up digest's funnel
    figure, the dashboard's and the referral list's "Funnel stage" filter are this condition."""
    return sa.and_(funnel_window(as_of), funnel_reached(stage))
