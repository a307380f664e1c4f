"""Configuration: defaults → environment (OPSADMIN_*, DATABASE_URL, REDIS_URL, SMTP_*) → test mapping."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(os.environ.get("OPSADMIN_INSTANCE_DIR", Path.cwd() / "instance"))

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,  # None → SQLite file in the instance folder
    "REDIS_URL": None,  # None → jobs run in-process, rate limits in memory
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "opsadmin@localhost",
    "OPSADMIN_BASE_URL": "http://127.0.0.1:5000",
    "OPSADMIN_OUTBOX_DIR": None,  # None → instance/outbox
    "OPSADMIN_CREDENTIAL_WARNING_DAYS": 60,
    "OPSADMIN_FOLLOW_UP_DAYS": 14,
    "OPSADMIN_STALLED_RECEIVED_DAYS": 7,
    "OPSADMIN_STALLED_CONSULTED_DAYS": 14,
    "OPSADMIN_STALLED_APPROVED_DAYS": 14,
    "OPSADMIN_FOLLOW_UP_WINDOW_DAYS": 7,
    "OPSADMIN_FUNNEL_DAYS": 90,
    "OPSADMIN_COURSE_MAX_GAP_DAYS": 7,
    "OPSADMIN_INFUSION_MINUTES": 120,
    "OPSADMIN_IDEMPOTENCY_HOURS": 72,
    "OPSADMIN_API_RATE_LIMIT": "600 per minute",
    "OPSADMIN_LOGIN_MAX_FAILURES": 10,
    "OPSADMIN_LOGIN_WINDOW_MINUTES": 15,
    "OPSADMIN_IDLE_TIMEOUT_MINUTES": 30,
    "OPSADMIN_ABSOLUTE_TIMEOUT_HOURS": 12,
    "OPSADMIN_REQUIRE_TOTP": True,
    "OPSADMIN_REPORT_JOB_TIMEOUT": 600,
    "OPSADMIN_STUCK_RUN_MINUTES": 30,
    "OPSADMIN_EXPORT_MAX_ROWS": 10000,
    "OPSADMIN_WEBHOOK_ALLOW_HTTP": False,
    "OPSADMIN_WEBHOOK_ALLOW_PRIVATE": False,
    "OPSADMIN_WEBHOOK_TIMEOUT_SECONDS": 10,
    "OPSADMIN_WEBHOOK_RETRY_SECONDS": "5,300,1800,7200,18000,36000,36000",
    "OPSADMIN_WEBHOOK_DISABLE_AFTER_DAYS": 5,
    # The booking system's opaque patient id: no spaces, so a name with a date of birth fails.
    "OPSADMIN_PATIENT_REF_PATTERN": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
    "SQLITE_BUSY_TIMEOUT_MS": 15000,
    # Every call that leaves the process is bounded (seconds). The web defaults keep a request
    # well under gunicorn's 60 s timeout: a hung database answers 503 within about 6 s.
    "OPSADMIN_DB_CONNECT_TIMEOUT": 3,
    "OPSADMIN_DB_STATEMENT_TIMEOUT": 5,
    "OPSADMIN_DB_POOL_TIMEOUT": 5,
    "OPSADMIN_JOB_DB_STATEMENT_TIMEOUT": 300,  # workers and the command line: reports take longer
    "OPSADMIN_REDIS_TIMEOUT": 1,
    "OPSADMIN_REDIS_RETRY_SECONDS": 30,  # after a Redis failure, rate limits are skipped this long
    "OPSADMIN_SMTP_TIMEOUT": 10,
    "OPSADMIN_RETRY_AFTER_SECONDS": 30,
    "OPSADMIN_TRUSTED_PROXIES": 0,  # reverse proxies in front of the app (X-Forwarded-For hops)
    "JSON_SORT_KEYS": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "API_TITLE": "opsadmin",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
}

_TYPES = {bool: lambda v: v.lower() in ("1", "true", "yes", "on"), int: int, float: float}


def setting(name: str, default: Any = None) -> Any:
    """A configuration value: the app's when there is an app context, else the default (the
    shell, a script, a test without an app). The one way features read configuration."""
    from flask import current_app, has_app_context

    fallback = DEFAULTS.get(name, default)
    if has_app_context():
        return current_app.config.get(name, fallback)
    return fallback


def _from_environment(environ: os._Environ | dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if environ.get("DATABASE_URL"):
        found["SQLALCHEMY_DATABASE_URI"] = environ["DATABASE_URL"]
    plain = ["SECRET_KEY", "REDIS_URL", "MAIL_FROM"] + [
        k for k in DEFAULTS if k.startswith("SMTP_")
    ]
    for key in plain + [k for k in DEFAULTS if k.startswith("OPSADMIN_")] + ["ENV"]:
        env_key = "OPSADMIN_ENV" if key == "ENV" else key
        if environ.get(env_key) in (None, ""):
            continue
        default = DEFAULTS.get(key)
        convert = _TYPES.get(type(default), str)
        found[key] = convert(environ[env_key])
    return found


def _normalise_database_url(url: str) -> str:
    # Hosted PostgreSQL URLs often say postgres:// or postgresql://; we speak psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(overrides: dict[str, Any] | None = None, environ=None) -> dict[str, Any]:
    """Return the app's configuration mapping; ``overrides`` (tests) win over the environment."""
    config = dict(DEFAULTS)
    config.update(_from_environment(os.environ if environ is None else environ))
    config.update(overrides or {})
    instance = Path(config.get("INSTANCE_DIR") or INSTANCE_DIR)
    config["INSTANCE_DIR"] = str(instance)
    if not config["SQLALCHEMY_DATABASE_URI"]:
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'opsadmin.db'}"
    config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    if not config["OPSADMIN_OUTBOX_DIR"]:
        config["OPSADMIN_OUTBOX_DIR"] = str(instance / "outbox")
    config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(config)
    _require_secret_key(config)
    return config


def statement_timeout(config: dict[str, Any]) -> float:
    """Seconds a database statement may take in this process (0: unbounded). Workers and the
    command line build their app with ``OPSADMIN_BACKGROUND`` set: they get the job timeout."""
    key = "OPSADMIN_JOB_DB_STATEMENT_TIMEOUT" if config.get("OPSADMIN_BACKGROUND") else None
    return float(config[key or "OPSADMIN_DB_STATEMENT_TIMEOUT"] or 0)


def _engine_options(config: dict[str, Any]) -> dict[str, Any]:
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = options.setdefault("connect_args", {})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        connect_args.setdefault("timeout", config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        connect_args.setdefault("check_same_thread", False)
        return options
    # The pool's pre-ping is replaced by opsadmin.db_timeouts' bounded one (a ping to a
    # blackholed server would wait forever).
    options.setdefault("pool_timeout", float(config["OPSADMIN_DB_POOL_TIMEOUT"]))
    connect_args.setdefault("connect_timeout", max(2, round(config["OPSADMIN_DB_CONNECT_TIMEOUT"])))
    milliseconds = round(statement_timeout(config) * 1000)
    if milliseconds:
        connect_args.setdefault("options", f"-c statement_timeout={milliseconds}")
    return options


def _require_secret_key(config: dict[str, Any]) -> None:
    if config.get("SECRET_KEY"):
        return
    if config["ENV"] in ("development", "test") or config.get("TESTING"):
        config["SECRET_KEY"] = _development_secret(Path(config["INSTANCE_DIR"]))
        return
    raise RuntimeError(
        "SECRET_KEY must be set outside development (environment variable SECRET_KEY)"
    )


def _development_secret(instance: Path) -> str:
    """A per-checkout random key kept in the instance folder, so development sessions survive restarts."""
    import secrets

    path = instance / "dev-secret.json"
    try:
        return json.loads(path.read_text())["secret_key"]
    except (OSError, ValueError, KeyError):
        instance.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(json.dumps({"secret_key": key}))
        return key
