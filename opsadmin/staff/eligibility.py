"""Eligibility: may a staff member take an appointment kind at a location on a date?

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

from opsadmin import master_cache
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
_UNREAD = object()  # eligible_staff_by_day: the caller has not read the cache token
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
    """The active staff assigned to the location who may take ``kind`` there on ``on``, by name
    (rows, read afresh; :func:`eligible_staff_by_day` answers from the cached roster)."""
    location = _location(session, location_id)
    assigned = sa.select(staff_location.c.staff_id).where(
        staff_location.c.location_id == location_id
    )
    staff = _staff_with_assignment(session, StaffMember.id.in_(assigned), location_id)
    # The judged rows are kept here: the identity map holds rows only weakly, so fetching them
    # again by id would cost a query each.
    eligible = [
        s for s, answer in _judge_all(session, staff, location, on, kind) if answer.eligible
    ]
    return sorted(eligible, key=lambda s: (s.name, s.id))


def eligible_staff_by_day(
    session: Session,
    location_id: int,
    days: Iterable[dt.date],
    kind: str,
    *,
    location: Any = None,
    version: int | None | object = _UNREAD,
) -> dict[dt.date, list[StaffFacts]]:
    """:func:`eligible_staff` for each of ``days``, judged in memory from the site's roster and
    the credential rules, both cached per worker under the ``cache_version`` token (read here
    unless the caller passes the ``version`` it read; ``location`` saves loading the site)."""
    if location is None:
        location = _location(session, location_id)
    if version is _UNREAD:
        version = master_cache.current_version(session)
    staff = master_cache.cached(
        session, ("roster", location_id), version, lambda: roster(session, location_id)
    )
    rules = master_cache.cached(
        session, "credential_rules", version, lambda: credential_rules(session)
    )
    return eligible_on_days(staff, location, days, rules.get(kind, {}))


@dataclass(frozen=True)
class StaffFacts:
    """A staff member as plain values (what judging and the API's staff lists need)."""

    id: int
    name: str
    role: str
    active: bool


@dataclass(frozen=True)
class CredentialFacts:
    """A credential as plain values; :func:`credential_status` reads it as it reads a row."""

    kind: str
    state: str | None
    issued_on: dt.date
    expires_on: dt.date
    unverified: bool


@dataclass(frozen=True)
class Roster:
    """The staff assigned to a location and their credentials, as plain values (cacheable)."""

    staff: tuple[StaffFacts, ...]
    credentials: dict[int, tuple[CredentialFacts, ...]]


def roster(session: Session, location_id: int) -> Roster:
    """The location's assigned staff and every credential they hold, in two queries."""
    assigned = sa.select(staff_location.c.staff_id).where(
        staff_location.c.location_id == location_id
    )
    staff = session.execute(
        sa.select(StaffMember.id, StaffMember.name, StaffMember.role, StaffMember.active).where(
            StaffMember.id.in_(assigned)
        )
    )
    members = tuple(StaffFacts(*row) for row in staff)
    found: dict[int, list[CredentialFacts]] = defaultdict(list)
    if members:
        rows = session.execute(
            sa.select(
                Credential.staff_id, Credential.kind, Credential.state, Credential.issued_on,
                Credential.expires_on, Credential.unverified,
            ).where(Credential.staff_id.in_([m.id for m in members]))
        )  # fmt: skip
        for staff_id, *values in rows:
            found[staff_id].append(CredentialFacts(*values))
    return Roster(members, {k: tuple(v) for k, v in found.items()})


def eligible_on_days(
    staff: Roster, location: Any, days: Iterable[dt.date], rules: dict[str, tuple[str, ...]]
) -> dict[dt.date, list[StaffFacts]]:
    """Who of the roster may take the kind ``rules`` describe (role → credential kinds, as
    :func:`credential_rules` gives them) at ``location`` (``state`` read) on each of ``days``,
    by name. The same judgement as :func:`eligible_staff`, with no query."""
    answer = {}
    for day in days:
        eligible = [
            s
            for s in staff.staff
            if _judge(
                s, True, location, day, rules.get(s.role, ()), staff.credentials.get(s.id, ())
            ).eligible  # fmt: skip
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
    staff: Any,
    assigned: bool,
    location: Any,
    on: dt.date,
    required: tuple[str, ...],
    credentials: Iterable[Any],
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
    credential_kind: str, state: str, on: dt.date, credentials: Iterable[Any]
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
