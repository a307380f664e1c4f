"""Eligibility: may a staff member take an appointment kind at a location on a date (DESIGN §4)?

The answer comes from the CredentialRule rows (data, editable in the console): each rule says a
role needs a credential kind for an appointment kind. A credential satisfies a rule when it is
verified and not expired on the date (``expiring`` still counts); a state-issued kind
(``STATE_CREDENTIAL_KINDS``) must be issued by the location's state.

``missing`` lists why a staff member is not eligible, one item per gap::

    {"kind": "state_license", "state": "IL", "reason": "missing" | "expired" | "unverified"}
    {"kind": "credential_rule", "reason": "no_rule"}         the role may not take this kind at all
    {"kind": "location", "reason": "not_assigned"}           not assigned to the location
    {"kind": "staff", "reason": "inactive"}                  the staff member is inactive

``state`` is present only for state-issued credential kinds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.errors import NotFound
from opsadmin.locations.models import Location
from opsadmin.staff.models import (
    STATE_CREDENTIAL_KINDS,
    Credential,
    CredentialRule,
    StaffMember,
    staff_location,
)
from opsadmin.staff.service import credential_status

GOOD_STATUSES = ("valid", "expiring")
# When several credentials of a kind fail, report the one closest to being good.
_REASON_RANK = {"unverified": 0, "expired": 1}


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    missing: list[dict[str, Any]] = field(default_factory=list)


def eligibility(
    session: Session, staff_id: int, location_id: int, on: dt.date, kind: str
) -> Eligibility:
    """Whether staff ``staff_id`` may take a ``kind`` appointment at ``location_id`` on ``on``."""
    answers = eligibility_many(session, [staff_id], location_id, on, kind)
    if staff_id not in answers:
        raise NotFound(f"No staff member {staff_id}.")
    return answers[staff_id]


def eligibility_many(
    session: Session, staff_ids: Iterable[int], location_id: int, on: dt.date, kind: str
) -> dict[int, Eligibility]:
    """Eligibility of many staff members at one location, date and kind, in three queries.

    Unknown staff ids are left out of the answer.
    """
    location = _location(session, location_id)
    staff = _staff_with_assignment(session, StaffMember.id.in_(set(staff_ids)), location_id)
    return {s.id: answer for s, answer in _judge_all(session, staff, location, on, kind)}


def eligible_staff(session: Session, location_id: int, on: dt.date, kind: str) -> list[StaffMember]:
    """The active staff assigned to the location who may take ``kind`` there on ``on``, by name."""
    return eligible_staff_by_day(session, location_id, [on], kind)[on]


def eligible_staff_by_day(
    session: Session, location_id: int, days: Iterable[dt.date], kind: str
) -> dict[dt.date, list[StaffMember]]:
    """:func:`eligible_staff` for each of ``days``: the staff, rules and credentials are loaded
    once (four queries however many days), then every day is judged in memory."""
    location = _location(session, location_id)
    assigned = sa.select(staff_location.c.staff_id).where(
        staff_location.c.location_id == location_id
    )
    staff = _staff_with_assignment(session, StaffMember.id.in_(assigned), location_id)
    rules = _rules_by_role(session, kind, {s.role for s, _ in staff})
    credentials = _credentials_by_staff(session, [s.id for s, _ in staff], rules)
    # The judged rows are kept here: the identity map holds rows only weakly, so fetching them
    # again by id would cost a query each.
    found: dict[dt.date, list[StaffMember]] = {}
    for day in days:
        eligible = [
            s
            for s, is_assigned in staff
            if _judge(
                s, is_assigned, location, day, rules.get(s.role, ()), credentials.get(s.id, [])
            ).eligible
        ]
        found[day] = sorted(eligible, key=lambda s: (s.name, s.id))
    return found


Question = tuple[int, Location, dt.date, str]  # staff id, location, local date, appointment kind


def eligibility_of(session: Session, questions: Iterable[Question]) -> dict[Question, Eligibility]:
    """Many (staff, location, date, kind) questions at once, in four queries whatever their number.

    The bookings-at-risk judge asks one per appointment; unknown staff ids are left out.
    """
    questions = list(dict.fromkeys(questions))
    staff_ids = {q[0] for q in questions}
    location_ids = {q[1].id for q in questions}
    assignments = {
        (staff_id, location_id)
        for staff_id, location_id in session.execute(
            sa.select(staff_location.c.staff_id, staff_location.c.location_id).where(
                staff_location.c.staff_id.in_(staff_ids),
                staff_location.c.location_id.in_(location_ids),
            )
        )
    }
    staff = {
        s.id: s
        for s in session.scalars(sa.select(StaffMember).where(StaffMember.id.in_(staff_ids)))
    }
    kinds = {q[3] for q in questions}
    rules: dict[tuple[str, str], tuple[str, ...]] = defaultdict(tuple)
    for role, appointment_kind, credential_kind in session.execute(
        sa.select(
            CredentialRule.role, CredentialRule.appointment_kind, CredentialRule.credential_kind
        )
        .where(CredentialRule.appointment_kind.in_(kinds))
        .order_by(CredentialRule.credential_kind)
    ):
        rules[(role, appointment_kind)] += (credential_kind,)
    credentials: dict[int, list[Credential]] = defaultdict(list)
    for credential in session.scalars(
        sa.select(Credential).where(Credential.staff_id.in_(staff_ids))
    ):
        credentials[credential.staff_id].append(credential)
    return {
        (staff_id, location, on, kind): _judge(
            staff[staff_id],
            (staff_id, location.id) in assignments,
            location,
            on,
            rules[(staff[staff_id].role, kind)],
            credentials[staff_id],
        )
        for staff_id, location, on, kind in questions
        if staff_id in staff
    }


def _location(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"No location {location_id}.")
    return location


def _staff_with_assignment(
    session: Session, which: sa.ColumnElement[bool], location_id: int
) -> list[tuple[StaffMember, bool]]:
    """The staff members ``which`` selects, each with whether they are assigned to the location.

    One query: the assignment is an EXISTS on the link table rather than every staff member's
    locations loaded as objects.
    """
    assigned = (
        sa.exists()
        .where(staff_location.c.staff_id == StaffMember.id)
        .where(staff_location.c.location_id == location_id)
    )
    rows = session.execute(sa.select(StaffMember, assigned).where(which))
    return [(member, bool(is_assigned)) for member, is_assigned in rows]


def _judge_all(
    session: Session,
    staff: list[tuple[StaffMember, bool]],
    location: Location,
    on: dt.date,
    kind: str,
) -> list[tuple[StaffMember, Eligibility]]:
    rules = _rules_by_role(session, kind, {s.role for s, _ in staff})
    credentials = _credentials_by_staff(session, [s.id for s, _ in staff], rules)
    return [
        (s, _judge(s, assigned, location, on, rules.get(s.role, ()), credentials.get(s.id, [])))
        for s, assigned in staff
    ]


def _rules_by_role(session: Session, kind: str, roles: set[str]) -> dict[str, tuple[str, ...]]:
    rows = session.execute(
        sa.select(CredentialRule.role, CredentialRule.credential_kind)
        .where(CredentialRule.appointment_kind == kind, CredentialRule.role.in_(roles))
        .order_by(CredentialRule.credential_kind)
    )
    rules: dict[str, list[str]] = defaultdict(list)
    for role, credential_kind in rows:
        rules[role].append(credential_kind)
    return {role: tuple(kinds) for role, kinds in rules.items()}


def _credentials_by_staff(
    session: Session, staff_ids: list[int], rules: dict[str, tuple[str, ...]]
) -> dict[int, list[Credential]]:
    needed = {kind for kinds in rules.values() for kind in kinds}
    if not staff_ids or not needed:
        return {}
    found: dict[int, list[Credential]] = defaultdict(list)
    for credential in session.scalars(
        sa.select(Credential).where(Credential.staff_id.in_(staff_ids), Credential.kind.in_(needed))
    ):
        found[credential.staff_id].append(credential)
    return found


def _judge(
    staff: StaffMember,
    assigned: bool,
    location: Location,
    on: dt.date,
    required: tuple[str, ...],
    credentials: list[Credential],
) -> Eligibility:
    missing: list[dict[str, Any]] = []
    if not staff.active:
        missing.append({"kind": "staff", "reason": "inactive"})
    if not assigned:
        missing.append({"kind": "location", "reason": "not_assigned"})
    if not required:
        missing.append({"kind": "credential_rule", "reason": "no_rule"})
    for credential_kind in required:
        gap = _credential_gap(credential_kind, location.state, on, credentials)
        if gap is not None:
            missing.append(gap)
    return Eligibility(eligible=not missing, missing=missing)


def _credential_gap(
    credential_kind: str, state: str, on: dt.date, credentials: list[Credential]
) -> dict[str, Any] | None:
    """None when a good credential of the kind (for the state, if state-issued) is held."""
    state_issued = credential_kind in STATE_CREDENTIAL_KINDS
    candidates = [
        c
        for c in credentials
        if c.kind == credential_kind
        and (not state_issued or c.state == state)
        # A credential issued after the date did not cover it (backfilled appointments).
        and c.issued_on <= on
    ]
    statuses = [credential_status(c, on) for c in candidates]
    if any(status in GOOD_STATUSES for status in statuses):
        return None
    reason = min(statuses, key=_REASON_RANK.__getitem__) if statuses else "missing"
    gap: dict[str, Any] = {"kind": credential_kind}
    if state_issued:
        gap["state"] = state
    gap["reason"] = reason
    return gap


def eligibility_grid(
    session: Session,
    assignments: Iterable[tuple[StaffMember, Location]],
    kinds: Iterable[str],
    days: Iterable[dt.date],
) -> dict[tuple[int, int, str, dt.date], Eligibility]:
    """Eligibility of each staff member at a location they are assigned to, for every kind and
    day, keyed ``(staff_id, location_id, kind, day)``: two queries (the rules, the credentials)
    however many staff, locations, kinds and days."""
    pairs = list(assignments)
    kinds, days = list(kinds), list(days)
    rules = _rules_by_kind_and_role(session, kinds, {staff.role for staff, _ in pairs})
    credentials = _credentials_by_staff(session, sorted({s.id for s, _ in pairs}), rules)
    return {
        (staff.id, location.id, kind, day): _judge(
            staff,
            True,
            location,
            day,
            rules.get(f"{kind}:{staff.role}", ()),
            credentials.get(staff.id, []),
        )
        for staff, location in pairs
        for kind in kinds
        for day in days
    }


def _rules_by_kind_and_role(
    session: Session, kinds: list[str], roles: set[str]
) -> dict[str, tuple[str, ...]]:
    """The credential kinds each role needs for each appointment kind, keyed ``"kind:role"``."""
    rows = session.execute(
        sa.select(
            CredentialRule.appointment_kind, CredentialRule.role, CredentialRule.credential_kind
        )
        .where(CredentialRule.appointment_kind.in_(kinds), CredentialRule.role.in_(roles))
        .order_by(CredentialRule.credential_kind)
    )
    rules: dict[str, list[str]] = defaultdict(list)
    for kind, role, credential_kind in rows:
        rules[f"{kind}:{role}"].append(credential_kind)
    return {key: tuple(needs) for key, needs in rules.items()}
