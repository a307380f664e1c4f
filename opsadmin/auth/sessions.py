"""Server-side console sessions, login throttling and TOTP: the rules behind the login pages.

The browser's cookie carries only a random token; the ConsoleSession row (found by the token's
SHA-256) is the authority, so revoking the row ends the session whatever the cookie says. "Now" is
read through :func:`now` so tests can move the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.audit import service as audit
from opsadmin.auth.models import ConsoleSession, LoginFailure, User
from opsadmin.auth.passwords import hash_password
from opsadmin.auth.service import check_password_rules
from opsadmin.db import utcnow

TOTP_ISSUER = "opsadmin"
# Codes from the neighbouring 30-second steps are accepted too: phone clocks drift.
TOTP_VALID_WINDOW = 1


def now() -> dt.datetime:
    """The current instant (a seam for tests that move the clock)."""
    return utcnow()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta
    absolute: dt.timedelta

    @classmethod
    def from_config(cls, config: dict) -> SessionPolicy:
        return cls(
            idle=dt.timedelta(minutes=config["OPSADMIN_IDLE_TIMEOUT_MINUTES"]),
            absolute=dt.timedelta(hours=config["OPSADMIN_ABSOLUTE_TIMEOUT_HOURS"]),
        )


# -- sessions ------------------------------------------------------------------------------------
def start_session(
    session: Session, user: User, ip: str, *, totp_verified: bool
) -> tuple[ConsoleSession, str]:
    """Create a session row for ``user``; return it and the token the cookie will carry."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=token_digest(token),
        user_id=user.id,
        created_at=now(),
        last_seen_at=now(),
        totp_verified=totp_verified,
        ip=ip[:64],
    )
    session.add(row)
    session.flush()
    return row, token


def find_live_session(
    session: Session, token: str | None, policy: SessionPolicy
) -> ConsoleSession | None:
    """The live session for ``token``, or None; an expired one is revoked on the way."""
    if not token:
        return None
    row = session.scalar(
        sa.select(ConsoleSession).where(ConsoleSession.token_hash == token_digest(token))
    )
    if row is None or row.revoked_at is not None:
        return None
    user = row.user
    current = now()
    expired = (
        current - row.last_seen_at > policy.idle
        or current - row.created_at > policy.absolute
        or not user.active
        # A password changed after the session began ends it even if a revoke was missed.
        or (user.password_changed_at is not None and user.password_changed_at > row.created_at)
    )
    if expired:
        row.revoked_at = current
        return None
    return row


def touch(row: ConsoleSession, resolution: dt.timedelta = dt.timedelta(seconds=30)) -> None:
    """Record activity; written at most every ``resolution`` so pages don't all write."""
    current = now()
    if current - row.last_seen_at >= resolution:
        row.last_seen_at = current


def revoke_session(session: Session, token: str | None) -> None:
    if not token:
        return
    session.execute(
        sa.update(ConsoleSession)
        .where(
            ConsoleSession.token_hash == token_digest(token), ConsoleSession.revoked_at.is_(None)
        )
        .values(revoked_at=now())
    )


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every live session of a user (logout everywhere, disable, password change)."""
    result = session.execute(
        sa.update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return result.rowcount or 0


def change_password(session: Session, user: User, password: str) -> None:
    """Set a new password (checked against the rules) and end the user's sessions."""
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = now()
    revoke_user_sessions(session, user.id)


def set_user_active(session: Session, user: User, active: bool) -> None:
    user.active = active
    if not active:
        revoke_user_sessions(session, user.id)


def reset_totp(session: Session, user: User) -> None:
    """Forget the user's authenticator and end their sessions: they enrol a new one at next
    login (never a bypass)."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    user.totp_enrol_required = True
    ended = revoke_user_sessions(session, user.id)
    audit.record(
        session,
        "reset_totp",
        entity="User",
        entity_id=user.id,
        detail=f"two-factor reset for {user.email}; {ended} session(s) ended",
        changes={"sessions_ended": ended},
    )


# -- throttling ----------------------------------------------------------------------------------
def too_many_failures(
    session: Session, email: str, ip: str, *, limit: int, ip_limit: int, window: dt.timedelta
) -> bool:
    """True once the account or the address has ``limit`` failures inside ``window``.

    Counted from the database, so every gunicorn worker sees the same figure.
    """
    since = now() - window
    by_account = session.scalar(
        sa.select(sa.func.count()).where(LoginFailure.email == email, LoginFailure.at > since)
    )
    if by_account >= limit:
        return True
    by_ip = session.scalar(
        sa.select(sa.func.count()).where(LoginFailure.ip == ip, LoginFailure.at > since)
    )
    return by_ip >= ip_limit


def record_failure(session: Session, email: str, ip: str) -> None:
    session.add(LoginFailure(email=email[:254], ip=ip[:64], at=now()))


def clear_account_failures(session: Session, email: str) -> None:
    session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email))


# -- TOTP ----------------------------------------------------------------------------------------
def totp_required(user: User, require_for_all: bool) -> bool:
    """Administrators always need TOTP; everyone does when OPSADMIN_REQUIRE_TOTP is on, and so
    does anyone who has enrolled (an enrolled factor is never skipped) or whose authenticator an
    administrator reset."""
    return require_for_all or user.role == "admin" or user.totp_enabled or user.totp_enrol_required


def ensure_totp_secret(user: User) -> str:
    """The secret being enrolled: kept across reloads of the enrolment page until confirmed."""
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    return pyotp.TOTP(ensure_totp_secret(user)).provisioning_uri(
        name=user.email, issuer_name=TOTP_ISSUER
    )


def verify_totp(user: User, code: str) -> bool:
    """Accept a code once: its time step must be later than the last one accepted."""
    code = "".join(code.split())
    if not user.totp_secret or not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now())
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False
