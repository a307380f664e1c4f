"""The pieces of ``opsadmin demo``: demo logins and API key, migrating, the banner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.db import utcnow

# -- the pieces of `opsadmin demo` ---------------------------------------------------------------

# (e-mail, role, regions): one login per console role, so a newcomer can try each.
DEMO_LOGINS = (
    ("admin@example.org", "admin", ()),
    ("ops@example.org", "ops_manager", ("IN", "IL")),
    ("lead.illinois@example.org", "regional_lead", ("IL",)),
)
DEMO_API_KEY_NAME = "demo booking system"


@dataclass(frozen=True)
class Login:
    email: str
    role: str
    regions: tuple[str, ...]
    password: str | None  # None: the login existed and keeps its password
    note: str = ""


def generate_password() -> str:
    """20 random letters and digits: well past the minimum length, and easy to copy."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def ensure_demo_logins(session: Session, reset: bool = False) -> list[Login]:
    """Create the demo's console users that are missing (passwords generated and returned).

    An existing user keeps its password unless ``reset``. No ``admin@example.org`` is created
    when another administrator already exists.
    """
    from opsadmin.auth.models import User

    logins = []
    for email, role, regions in DEMO_LOGINS:
        user = session.scalar(sa.select(User).where(User.email == email))
        if user is None and role == "admin":
            other = session.scalar(sa.select(User).where(User.role == "admin").limit(1))
            if other is not None:
                logins.append(Login(other.email, "admin", (), None, "administrator exists"))
                continue
        logins.append(_ensure_login(session, user, email, role, regions, reset))
    return logins


def _ensure_login(
    session: Session, user: Any, email: str, role: str, regions: tuple[str, ...], reset: bool
) -> Login:
    from opsadmin.auth.passwords import hash_password
    from opsadmin.auth.service import create_user

    password = generate_password()
    if user is None:
        create_user(session, email, password, role, list(regions))
        return Login(email, role, regions, password, "created")
    if not reset:
        return Login(email, user.role, regions, None, "exists")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    return Login(email, user.role, regions, password, "password reset")


def ensure_demo_api_key(session: Session) -> str | None:
    """Create the demo booking system's API key (read, write) once; its plaintext, or None."""
    from opsadmin.auth.models import ApiKey
    from opsadmin.auth.service import create_api_key

    if session.scalar(sa.select(ApiKey.id).where(ApiKey.name == DEMO_API_KEY_NAME)):
        return None
    _key, plaintext = create_api_key(session, DEMO_API_KEY_NAME, ["read", "write"], "seed-demo")
    return plaintext


def is_sqlite(database_uri: str) -> bool:
    return database_uri.startswith("sqlite")


def migrate_database() -> None:
    """``opsadmin db upgrade``, in-process (inside an app context).

    Alembic's env.py applies migrations/alembic.ini's logging configuration, which would replace
    the process's handlers and silence existing loggers for the rest of the demo: it is undone.
    """
    import logging

    from flask_migrate import upgrade

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {
        name: logger.disabled
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        upgrade()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.disabled = loggers.get(name, False)


def banner(
    config: dict[str, Any], base_url: str, logins: list[Login], api_key: str | None
) -> list[str]:
    """What `opsadmin demo` prints before serving: where to go, how to sign in, how to stop."""
    lines = [
        "",
        f"opsadmin demo — the console: {base_url}/admin/",
        "",
        f"Sign in at {base_url}/login with:",
    ]
    for login in logins:
        secret = login.password or "(password unchanged)"
        regions = f"  regions {', '.join(login.regions)}" if login.regions else ""
        lines.append(f"  {login.email:<28} {login.role:<14} {secret}{regions}")
    if any(login.password is None for login in logins):
        lines += [
            "  Lost a password? `opsadmin demo --reset-admin-password` prints new ones for these",
            "  logins; `opsadmin users create EMAIL --role admin` adds another administrator.",
        ]
    if config.get("OPSADMIN_REQUIRE_TOTP", True):
        lines += [
            "At the first sign-in the console asks for two-factor enrolment: scan the QR code",
            "with an authenticator app, then type the 6-digit code it shows.",
        ]
    lines += ["", *_api_lines(base_url, api_key), *_runtime_lines(config), ""]
    return lines


def _api_lines(base_url: str, api_key: str | None) -> list[str]:
    lines = [f"API: {base_url}/api/v1/docs (OpenAPI at {base_url}/api/v1/openapi.json)"]
    if api_key:
        lines += [
            "  API key for the demo booking system (read, write), shown once:",
            f"  {api_key}",
            f"  curl -H 'Authorization: Bearer {api_key}' {base_url}/api/v1/locations",
        ]
    else:
        lines.append("  `opsadmin api-keys create NAME --scopes read,write` makes a key.")
    return lines


def _runtime_lines(config: dict[str, Any]) -> list[str]:
    database = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"])
    if config.get("SMTP_HOST"):
        mail = f"E-mail: sent through {config['SMTP_HOST']}:{config['SMTP_PORT']}"
    else:
        mail = f"E-mail: not sent; written to the outbox {config['OPSADMIN_OUTBOX_DIR']}/*.eml"
    if config.get("REDIS_URL"):
        jobs = "Jobs: queued in Redis (REDIS_URL is set): run `python worker.py` alongside."
    else:
        jobs = "Jobs: run in-process (REDIS_URL unset)."
    return [
        f"Database: {database.render_as_string(hide_password=True)}",
        mail,
        jobs,
        "Stop with Ctrl-C; `make demo` again reuses the data.",
    ]
