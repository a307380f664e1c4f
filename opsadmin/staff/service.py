"""Staff and credentials: derived credential status, the default credential rules, master data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin import expiry
from opsadmin.errors import InvalidInput, NotFound
from opsadmin.locations.models import Location
from opsadmin.staff.models import (
    APPOINTMENT_KINDS,
    CLINICIAN_ROLES,
    CREDENTIAL_KINDS,
    STAFF_ROLES,
    STATE_CREDENTIAL_KINDS,
    Credential,
    CredentialRule,
    StaffMember,
)
from opsadmin.validation import (
    FieldErrors,
    apply_values,
    check_email,
    check_required,
    check_state,
    delete_without_history,
    duplicate,
)

CREDENTIAL_STATUSES = ("unverified", "valid", "expiring", "expired")
DEFAULT_WARNING_DAYS = 60

# an infusion needs a clinician's state license and DEA registration for the site's
# state, and ACLS; a consult (and a follow-up, treated as a consult) needs the state license.
DEFAULT_RULES: tuple[tuple[str, str, str], ...] = tuple(
    (role, appointment_kind, credential_kind)
    for role in CLINICIAN_ROLES
    for appointment_kind, credential_kinds in (
        ("infusion", ("state_license", "dea_registration", "acls")),
        ("consult", ("state_license",)),
        ("follow_up", ("state_license",)),
    )
    for credential_kind in credential_kinds
)


def credential_status(
    credential: Credential, on: dt.date, warning_days: int = DEFAULT_WARNING_DAYS
) -> str:
    """``expired``, ``unverified``, ``expiring`` or ``valid`` on ``on`` (:mod:`opsadmin.expiry`)."""
    return expiry.status_of(credential.expires_on, on, warning_days, credential.unverified)


def credential_status_sql(
    on: dt.date, warning_days: int = DEFAULT_WARNING_DAYS
) -> sa.ColumnElement[str]:
    """:func:`credential_status` as a SQL expression over the credential table."""
    return expiry.status_sql(Credential.expires_on, on, warning_days, Credential.unverified)


def credential_renewed() -> sa.ColumnElement[bool]:
    """True for a credential superseded by a newer one of the same kind and state."""
    return expiry.superseded_by_renewal(Credential, "staff_id", "kind", "state")


def ensure_default_rules(session: Session) -> int:
    """Insert the default credential rules that are missing; return how many were added."""
    existing = {
        tuple(row)
        for row in session.execute(
            sa.select(
                CredentialRule.role, CredentialRule.appointment_kind, CredentialRule.credential_kind
            )
        )
    }
    missing = [rule for rule in DEFAULT_RULES if rule not in existing]
    for role, appointment_kind, credential_kind in missing:
        session.add(
            CredentialRule(
                role=role, appointment_kind=appointment_kind, credential_kind=credential_kind
            )
        )
    session.flush()
    return len(missing)


# -- master data: staff members and credentials -------------------------------------------------
# As in opsadmin.locations.service: ``validate_*`` checks an object (the console calls it on what
# its form populated), ``create_*``/``update_*`` take plain values (the API).
STAFF_FIELDS = ("name", "email", "role", "locations", "active")
CREDENTIAL_FIELDS = (
    "kind",
    "number",
    "state",
    "issued_on",
    "expires_on",
    "verified_on",
    "verified_by",
)


def validate_staff(session: Session, staff: StaffMember) -> None:
    """Name, e-mail syntax, role; Conflict(duplicate) for an e-mail another member has.

    The e-mail is normalised in place (domain lower-cased) so that uniqueness is meaningful.
    """
    errors = FieldErrors()
    check_required(errors, {"name": staff.name, "email": staff.email})
    if staff.email:
        normalised = check_email(staff.email.strip())
        if normalised is None:
            errors.add("email", f"{staff.email!r} is not a valid e-mail address.")
        else:
            staff.email = normalised
    if staff.role not in STAFF_ROLES:
        errors.add("role", f"Role must be one of {', '.join(STAFF_ROLES)}.")
    errors.raise_if_any("staff member")
    query = sa.select(StaffMember.id).where(sa.func.lower(StaffMember.email) == staff.email.lower())
    if staff.id is not None:
        query = query.where(StaffMember.id != staff.id)
    with session.no_autoflush:
        if session.scalar(query.limit(1)) is not None:
            raise duplicate("email", f"A staff member with e-mail {staff.email!r} already exists.")


def _resolve_locations(session: Session, locations: list[Location | str]) -> list[Location]:
    codes = [item for item in locations if not isinstance(item, Location)]
    with session.no_autoflush:
        found = {
            loc.code: loc
            for loc in session.scalars(sa.select(Location).where(Location.code.in_(codes)))
        }
    missing = [code for code in codes if code not in found]
    if missing:
        message = f"No location {', '.join(map(repr, missing))}."
        raise InvalidInput(message, errors={"locations": [message]})
    return [item if isinstance(item, Location) else found[item] for item in locations]


def create_staff(
    session: Session,
    *,
    name: str,
    email: str,
    role: str,
    locations: list[Location | str] | None = None,
    active: bool = True,
) -> StaffMember:
    """Create a staff member working at ``locations`` (Location objects or codes)."""
    staff = StaffMember(name=name, email=email, role=role, active=active)
    staff.locations = _resolve_locations(session, list(locations or []))
    validate_staff(session, staff)
    session.add(staff)
    session.flush()
    return staff


def update_staff(session: Session, staff: StaffMember, **values: object) -> StaffMember:
    """Change the given fields; ``locations`` (objects or codes) replaces the assignments."""
    values = dict(values)
    with session.no_autoflush:
        if "locations" in values:
            values["locations"] = _resolve_locations(session, list(values["locations"] or []))
        apply_values(staff, values, STAFF_FIELDS)
        validate_staff(session, staff)
    session.flush()
    return staff


def get_staff(session: Session, staff_id: int) -> StaffMember:
    staff = session.get(StaffMember, staff_id)
    if staff is None:
        raise NotFound(f"No staff member {staff_id}.")
    return staff


def delete_staff(session: Session, staff: StaffMember) -> None:
    """Delete a member with no appointments or screenings; Conflict(in_use) otherwise."""
    delete_without_history(session, staff, "staff member")


def validate_credential(session: Session, credential: Credential) -> None:
    """Kind, number, dates with expiry after issue, a valid state for state-issued kinds."""
    errors = FieldErrors()
    if credential.kind not in CREDENTIAL_KINDS:
        errors.add("kind", f"Kind must be one of {', '.join(CREDENTIAL_KINDS)}.")
    check_required(
        errors,
        {
            "number": credential.number,
            "issued_on": credential.issued_on,
            "expires_on": credential.expires_on,
        },
    )
    # A state-issued kind needs its state; any other kind may name one, but a real one.
    if credential.kind in STATE_CREDENTIAL_KINDS or credential.state:
        check_state(errors, credential.state)
    issued, expires = credential.issued_on, credential.expires_on
    if issued and expires and expires <= issued:
        errors.add("expires_on", "The expiry date must be after the issue date.")
    if credential.verified_on and issued and credential.verified_on < issued:
        errors.add("verified_on", "A credential cannot be verified before it was issued.")
    if credential.staff is None and credential.staff_id is None:
        errors.add("staff", "Choose the staff member.")
    errors.raise_if_any("credential")


def add_credential(
    session: Session,
    staff: StaffMember,
    *,
    kind: str,
    number: str,
    issued_on: dt.date,
    expires_on: dt.date,
    state: str | None = None,
    verified_on: dt.date | None = None,
    verified_by: str | None = None,
) -> Credential:
    """Record a credential of ``staff``; ``state`` is required for state-issued kinds."""
    credential = Credential(
        kind=kind,
        number=number,
        state=state or None,
        issued_on=issued_on,
        expires_on=expires_on,
        verified_on=verified_on,
        verified_by=verified_by,
    )
    credential.staff_id = staff.id
    validate_credential(session, credential)
    staff.credentials.append(credential)
    session.flush()
    return credential


def update_credential(session: Session, credential: Credential, **values: object) -> Credential:
    with session.no_autoflush:
        apply_values(credential, values, CREDENTIAL_FIELDS)
        validate_credential(session, credential)
    session.flush()
    return credential


def validate_credential_rule(session: Session, rule: CredentialRule) -> None:
    """Known role, appointment kind and credential kind; Conflict(duplicate) for a rule twice."""
    errors = FieldErrors()
    for field, allowed in (
        ("role", STAFF_ROLES),
        ("appointment_kind", APPOINTMENT_KINDS),
        ("credential_kind", CREDENTIAL_KINDS),
    ):
        if getattr(rule, field) not in allowed:
            errors.add(field, f"Must be one of {', '.join(allowed)}.")
    errors.raise_if_any("credential rule")
    query = sa.select(CredentialRule.id).where(
        CredentialRule.role == rule.role,
        CredentialRule.appointment_kind == rule.appointment_kind,
        CredentialRule.credential_kind == rule.credential_kind,
    )
    if rule.id is not None:
        query = query.where(CredentialRule.id != rule.id)
    with session.no_autoflush:
        if session.scalar(query.limit(1)) is not None:
            raise duplicate("credential_kind", f"The rule “{rule}” already exists.")


# -- renewals: the credentials someone has to act on ------------------------------------------------
RENEWAL_STATUSES = ("expiring", "expired")


def renewal_due(
    as_of: dt.date, warning_days: int, status: str | None = None
) -> sa.ColumnElement[bool]:
    """SQL on :class:`Credential`: an active staff member's credential, not renewed, that has
    expired (``status="expired"``) or expires within ``warning_days`` (``"expiring"``); either when
    ``status`` is None. The follow-up digest, the dashboard and the credentials list's "Renewal
    due" filter all count with this one condition."""
    expires = Credential.expires_on
    horizon = as_of + dt.timedelta(days=warning_days)
    window = {
        None: expires <= horizon,
        "expired": expires < as_of,
        "expiring": expires.between(as_of, horizon),
    }[status]
    return sa.and_(
        window, Credential.staff.has(StaffMember.active.is_(True)), ~credential_renewed()
    )


# -- bulk changes from the console -------------------------------------------------------------------
def mark_verified(
    session: Session, credential_ids: list[int], verified_by: str, on: dt.date
) -> list[Credential]:
    """Record that the credentials were checked at the source on ``on`` by ``verified_by`` (the
    audit hook logs each change with its old and new values)."""
    credentials = list(
        session.scalars(
            sa.select(Credential).where(Credential.id.in_(credential_ids)).order_by(Credential.id)
        )
    )
    for credential in credentials:
        if credential.issued_on > on:
            raise InvalidInput(
                f"Credential {credential} was issued on {credential.issued_on}: "
                "it cannot be verified before that."
            )
        credential.verified_on = on
        credential.verified_by = verified_by[:120]
    return credentials


def deactivate_staff(session: Session, staff_ids: list[int]) -> list[StaffMember]:
    """Mark staff members inactive (they leave eligibility and the digests; history stays)."""
    staff = list(
        session.scalars(
            sa.select(StaffMember).where(StaffMember.id.in_(staff_ids)).order_by(StaffMember.id)
        )
    )
    for member in staff:
        member.active = False
    return staff
