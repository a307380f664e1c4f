"""Staff and credentials: derived credential status, the default credential rules, master data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.staff.models import CLINICIAN_ROLES, Credential, CredentialRule

CREDENTIAL_STATUSES = ("unverified", "valid", "expiring", "expired")
DEFAULT_WARNING_DAYS = 60

# DESIGN §4: an infusion needs a clinician's state license and DEA registration for the site's
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
    """``expired`` past its expiry; else ``unverified`` until verified; else ``expiring`` within
    the warning window; else ``valid``. A credential is good through its expiry date."""
    if credential.expires_on < on:
        return "expired"
    if credential.verified_on is None:
        return "unverified"
    if (credential.expires_on - on).days <= warning_days:
        return "expiring"
    return "valid"


def ensure_default_rules(session: Session) -> int:
    """Insert the default credential rules that are missing; return how many were added."""
    existing = set(
        session.execute(
            sa.select(
                CredentialRule.role, CredentialRule.appointment_kind, CredentialRule.credential_kind
            )
        ).tuples()
    )
    missing = [rule for rule in DEFAULT_RULES if rule not in existing]
    for role, appointment_kind, credential_kind in missing:
        session.add(
            CredentialRule(
                role=role, appointment_kind=appointment_kind, credential_kind=credential_kind
            )
        )
    session.flush()
    return len(missing)
