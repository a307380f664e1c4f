"""Site licensing: which registrations a site's state requires, and which of them a site lacks.

One definition, used by the booking rule (``site_not_licensed``), availability, the utilisation
report's flag, the bookings-at-risk judge and the demo. The requirements are :class:`SiteRule`
rows (state, registration kind), seeded with a DEA registration for every state and a state CSR
for Indiana and Illinois. A registration covers a local day when it is of the required kind,
issued by the site's state, issued on or before the day (when an issue date is known) and not
expired (good through its expiry date).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin import expiry
from opsadmin.locations.models import (
    SITE_REGISTRATION_KINDS,
    Location,
    SiteRegistration,
    SiteRule,
)
from opsadmin.validation import US_STATES, FieldErrors, check_state, duplicate

# Seeded by the migration (and by ensure_default_site_rules): a DEA registration everywhere,
# a state controlled-substance registration where the state requires one of the site.
CSR_STATES = ("IN", "IL")


def default_site_rules(states: Iterable[str]) -> list[tuple[str, str]]:
    """(state, registration kind) pairs of the defaults, for every state in ``states``."""
    rules = [(state, "dea_registration") for state in sorted(states)]
    return rules + [(state, "state_csr") for state in CSR_STATES]


def covers(registration: SiteRegistration, state: str, kind: str, day: dt.date) -> bool:
    """True when ``registration`` is a ``kind`` of ``state`` good on the local ``day``."""
    return (
        registration.kind == kind
        and registration.state == state
        and (registration.issued_on is None or registration.issued_on <= day)
        and expiry.status_of(registration.expires_on, day, 0) != expiry.EXPIRED
    )


@dataclass
class Licensing:
    """The site rules of some states and the registrations of some sites, loaded once."""

    rules: dict[str, list[str]] = field(default_factory=dict)  # state → required kinds
    registrations: dict[int, list[SiteRegistration]] = field(default_factory=dict)

    def missing(self, location: Location, day: dt.date) -> list[str]:
        """The registration kinds ``location`` requires but lacks on its local ``day``."""
        held = self.registrations.get(location.id, [])
        return [
            kind
            for kind in self.rules.get(location.state, [])
            if not any(covers(r, location.state, kind, day) for r in held)
        ]


def load_licensing(session: Session, locations: Iterable[Location]) -> Licensing:
    """Rules and registrations of ``locations`` in two queries (for many sites and days)."""
    locations = list(locations)
    registrations: dict[int, list[SiteRegistration]] = defaultdict(list)
    for registration in session.scalars(
        sa.select(SiteRegistration).where(
            SiteRegistration.location_id.in_({location.id for location in locations})
        )
    ):
        registrations[registration.location_id].append(registration)
    return Licensing(_rules(session, {loc.state for loc in locations}), dict(registrations))


def _rules(session: Session, states: set[str]) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = defaultdict(list)
    for state, kind in session.execute(
        sa.select(SiteRule.state, SiteRule.registration_kind)
        .where(SiteRule.state.in_(states))
        .order_by(SiteRule.state, SiteRule.registration_kind)
    ):
        rules[state].append(kind)
    return dict(rules)


def missing_registrations(session: Session, location: Location, day: dt.date) -> list[str]:
    """The registration kinds the site requires for infusions but lacks on its local ``day``
    (empty: the site is licensed). The one answer to "may this site take infusions that day?".

    Reads the site's registrations through ``location.registrations`` (eager-load it where
    the caller already does)."""
    licensing = Licensing(_rules(session, {location.state}), {location.id: location.registrations})
    return licensing.missing(location, day)


def ensure_default_site_rules(session: Session) -> int:
    """Insert the default site rules that are missing; return how many were added."""
    existing = {
        tuple(row) for row in session.execute(sa.select(SiteRule.state, SiteRule.registration_kind))
    }
    missing = [rule for rule in default_site_rules(US_STATES) if rule not in existing]
    for state, kind in missing:
        session.add(SiteRule(state=state, registration_kind=kind))
    session.flush()
    return len(missing)


def validate_site_rule(session: Session, rule: SiteRule) -> None:
    """A US state code and a registration kind; Conflict(duplicate) for a rule twice."""
    errors = FieldErrors()
    check_state(errors, rule.state)
    if rule.registration_kind not in SITE_REGISTRATION_KINDS:
        errors.add("registration_kind", f"Must be one of {', '.join(SITE_REGISTRATION_KINDS)}.")
    errors.raise_if_any("site rule")
    query = sa.select(SiteRule.id).where(
        SiteRule.state == rule.state, SiteRule.registration_kind == rule.registration_kind
    )
    if rule.id is not None:
        query = query.where(SiteRule.id != rule.id)
    with session.no_autoflush:
        if session.scalar(query.limit(1)) is not None:
            raise duplicate("registration_kind", f"The rule “{rule}” already exists.")
