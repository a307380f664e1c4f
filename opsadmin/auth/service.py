"""Users and API keys: creation, password rules, key verification."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.auth.models import API_SCOPES, USER_ROLES, ApiKey, User
from opsadmin.auth.passwords import hash_password
from opsadmin.db import utcnow
from opsadmin.errors import InvalidInput, NotFound
from opsadmin.validation import check_email

MIN_PASSWORD_LENGTH = 12
KEY_PREFIX = "opk_"


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.",
            errors={"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]},
        )
    if len(password) > 256:
        raise InvalidInput(
            "Password is too long.", errors={"password": ["At most 256 characters."]}
        )


def valid_email(address: str) -> str:
    """The address, normalised and in lower case, or InvalidInput: the console's user form and
    ``opsadmin users create`` both check with this."""
    normalised = check_email((address or "").strip())
    if normalised is None:
        raise InvalidInput(
            f"{address!r} is not a valid e-mail address.",
            errors={"email": ["Give an e-mail address, e.g. name@example.org."]},
        )
    return normalised.lower()


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user {email.strip()!r}.")
    return user


def create_user(
    session: Session, email: str, password: str, role: str, region_codes: list[str] | None = None
) -> User:
    email = valid_email(email)
    if role not in USER_ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", errors={"role": [f"One of {USER_ROLES}."]})
    check_password_rules(password)
    if session.scalar(sa.select(User.id).where(User.email == email)):
        raise InvalidInput(f"A user {email} already exists.", code="duplicate")
    regions = []
    region_model = User.regions.property.mapper.class_  # regions are the locations feature's
    for code in region_codes or []:
        region = session.scalar(sa.select(region_model).where(region_model.code == code))
        if region is None:
            raise InvalidInput(f"Unknown region {code!r}.", errors={"region": [code]})
        regions.append(region)
    user = User(email=email, password_hash=hash_password(password), role=role, regions=regions)
    session.add(user)
    session.flush()
    return user


def digest_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_api_key(
    session: Session, name: str, scopes: list[str], created_by: str = ""
) -> tuple[ApiKey, str]:
    """Create a key; return it and its plaintext, which is shown once and never stored."""
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown or not scopes:
        raise InvalidInput(
            f"Scopes must be among {', '.join(API_SCOPES)}.",
            errors={"scopes": unknown or ["empty"]},
        )
    if not name.strip():
        raise InvalidInput("A key needs a name.", errors={"name": ["Required."]})
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name.strip(),
        prefix=prefix,
        digest=digest_key(plaintext),
        scopes=sorted(set(scopes), key=API_SCOPES.index),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def find_api_key(session: Session, plaintext: str) -> ApiKey | None:
    """The active key for ``plaintext``, or None (unknown, revoked or expired)."""
    digest = digest_key(plaintext)
    key = session.scalar(sa.select(ApiKey).where(ApiKey.digest == digest))
    if key is None or not hmac.compare_digest(key.digest, digest):
        return None
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    return key


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise InvalidInput(f"No API key {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key
