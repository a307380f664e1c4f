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
    location = _location(session, location_id)
    return eligible_staff_on_days(session, location, [on], kind)[on]


def eligible_staff_on_days(
    session: Session,
    location: Any,
    days: Iterable[dt.date],
    kind: str,
    rules: dict[str, tuple[str, ...]] | None = None,
) -> dict[dt.date, list[StaffMember]]:
    """:func:`eligible_staff` for each of ``days`` in the same two or three queries.

    ``location`` needs ``id`` and ``state`` (a Location, or a cached copy of its values);
    ``rules`` (role → credential kinds for ``kind``, as :func:`credential_rules` gives them) saves
    the rule query when the caller holds them already.
    """
    assigned = sa.select(staff_location.c.staff_id).where(
        staff_location.c.location_id == location.id
    )
    staff = _staff_with_assignment(session, StaffMember.id.in_(assigned), location.id)
    if rules is None:
        rules = _rules_by_role(session, kind, {s.role for s, _ in staff})
    credentials = _credentials_by_staff(session, [s.id for s, _ in staff], rules)
    # The judged rows are kept here: the identity map holds rows only weakly, so fetching them
    # again by id would cost a query each.
    answer = {}
    for day in days:
        eligible = [
            s
            for s, assigned_here in staff
            if _judge(
                s, assigned_here, location, day, rules.get(s.role, ()), credentials.get(s.id, [])
            ).eligible
        ]
        answer[day] = sorted(eligible, key=lambda s: (s.name, s.id))
    return answer


def credential_rules(session: Session) -> dict[str, dict[str, tuple[str, ...]]]:
    """Every credential rule: appointment kind → role → required credential kinds (one query)."""
    rows = session.execute(
        sa.select(
            CredentialRule.appointment_kind, CredentialRule.role, CredentialRule.credential_kind
        ).order_by(CredentialRule.credential_kind)
    )
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for kind, role, credential_kind in rows:
        found[kind][role].append(credential_kind)
    return {
        kind: {role: tuple(kinds) for role, kinds in roles.items()} for kind, roles in found.items()
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
    location: Any,
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
