"""API key authentication for the JSON API: ``Authorization: Bearer <key>``, scopes, rate limit.

Scopes are independent (none implies another): ``read`` for every GET, ``write`` for appointments
and referrals, ``admin`` for master data. A key gets exactly what it lists, so a booking system
is given ``read,write`` and an HR system ``read,admin``; an admin-only key cannot book.

Use on a view function or a smorest MethodView method (above the smorest decorators, so a
request is authenticated before its body is parsed)::

    @blp.route("/<int:staff_id>")
    class Staff(MethodView):
        @api_key_required("read")
        @blp.response(200, StaffSchema)
        def get(self, staff_id): ...

or on a whole MethodView (below ``@blp.route``): GET/HEAD then need ``read`` and every other
method the scope given::

    @blp.route("/<external_id>")
    @api_key_required("write")
    class Appointment(MethodView): ...

Inside a protected view, :func:`current_api_key` gives the key (id, name, prefix, scopes) and the
audit actor is ``Actor("api_key", id, "api-key:<name>", ip)``. Keys are never logged.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import limits
import redis
import sqlalchemy as sa
from flask import Flask, current_app, g, request
from flask_smorest import abort

from opsadmin.audit.service import Actor, acting_as
from opsadmin.auth.models import API_SCOPES, ApiKey
from opsadmin.auth.service import find_api_key
from opsadmin.config import setting
from opsadmin.db import begin_immediate, utcnow
from opsadmin.errors import PermissionDenied
from opsadmin.extensions import db, limiter

READ_METHODS = ("GET", "HEAD", "OPTIONS")
# last_used_at is a hint for administrators, not an access log: writing it at most once a
# minute keeps a busy key from turning every GET into a write (and a lock, on SQLite).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
SECURITY_DOC = [{"apiKey": []}]

T = TypeVar("T")


@dataclass(frozen=True)
class ApiKeyInfo:
    """The authenticated key, as plain values (no ORM object outliving its transaction)."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]


def current_api_key() -> ApiKeyInfo | None:
    """The key that authenticated this request, or None outside a protected view."""
    return g.get("api_key")


def init_api_keys(app: Flask) -> None:
    """Bind the rate limiter: Redis when REDIS_URL is set, memory otherwise; on unless disabled."""
    # setdefault: flask-limiter keeps ``enabled`` from the previous app otherwise.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "opsadmin")
    timeout = float(app.config.get("OPSADMIN_REDIS_TIMEOUT") or 1)
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://")):
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {"socket_timeout": timeout, "socket_connect_timeout": timeout},
        )
    limiter.init_app(app)


def api_key_required(scope: str = "read", *, autocommit: bool = False) -> Callable[[T], T]:
    """Require a valid key with ``scope`` on a view function, a method or a whole MethodView.

    ``autocommit=True`` is for hot reads that need no snapshot across their statements
    (PostgreSQL's READ COMMITTED gives none anyway) and write at most one statement of their own
    (the audit row of an audited read): on PostgreSQL each statement then commits by itself, with
    no BEGIN and no COMMIT/ROLLBACK round trips.
    """
    if scope not in API_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(target: Any) -> Any:
        if isinstance(target, type):
            return _protect_method_view(target, scope)
        return _protect(target, scope, autocommit)

    return decorate


def _protect_method_view(view_class: type, scope: str) -> type:
    for method in getattr(view_class, "methods", None) or ():
        name = method.lower()
        needed = "read" if method in READ_METHODS else scope
        setattr(view_class, name, _protect(getattr(view_class, name), needed))
    return view_class


def _protect(func: Callable[..., Any], scope: str, autocommit: bool = False) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if autocommit:
            _autocommit_on_postgresql()
        key = authenticate(scope)
        actor = Actor("api_key", key.id, f"api-key:{key.name}", request.remote_addr or "")
        with acting_as(actor):
            return func(*args, **kwargs)

    # Document the requirement in OpenAPI (functools.wraps shares the dict: copy it first).
    apidoc = {k: v for k, v in getattr(func, "_apidoc", {}).items()}
    manual = dict(apidoc.get("manual_doc", {}))
    manual["security"] = SECURITY_DOC
    manual["x-required-scope"] = scope
    apidoc["manual_doc"] = manual
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper


def authenticate(scope: str) -> ApiKeyInfo:
    """Check the request's key and scope, count it against its rate limit, remember its use."""
    plaintext = _bearer_token()
    key = find_api_key(db.session, plaintext) if plaintext else None
    if key is None:
        db.session.rollback()
        abort(
            401,
            message="A valid API key is required: Authorization: Bearer <key>.",
            headers={"WWW-Authenticate": 'Bearer realm="opsadmin"'},
        )
    info = ApiKeyInfo(key.id, key.name, key.prefix, tuple(key.scopes or ()))
    stale = key.last_used_at is None or utcnow() - key.last_used_at >= LAST_USED_RESOLUTION
    _end_read_on_sqlite()
    if scope not in info.scopes:
        raise PermissionDenied(f"This API key lacks the {scope!r} scope.", code="forbidden")
    _check_rate_limit(info)
    if stale:
        _touch(info.id)
    g.api_key = info
    return info


def _autocommit_on_postgresql() -> None:
    """Run this request's statements in autocommit (the session has not started yet)."""
    session = db.session()
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _end_read_on_sqlite() -> None:
    """End the key's read transaction where the view's unit of work must open its own.

    On SQLite a booking opens its transaction with BEGIN IMMEDIATE, so the read must end here.
    On PostgreSQL the view simply carries on in the same transaction: committing would hand the
    connection back to the pool, and the view's first statement would check it out again (a
    pre-ping, a BEGIN and a COMMIT: three round trips per request for nothing).
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.commit()


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _touch(key_id: int) -> None:
    begin_immediate(db.session())  # the scoped_session proxy lacks in_transaction()
    db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _check_rate_limit(key: ApiKeyInfo) -> None:
    """Count the request against its key's limit. Fails open: while the store (Redis) is down,
    requests are served uncounted, and after one failure the store is left alone for
    OPSADMIN_REDIS_RETRY_SECONDS, so only that request pays the Redis timeout."""
    if not setting("RATELIMIT_ENABLED", True):
        return
    # Until when (time.monotonic()) this app skips the store after it failed.
    breaker = current_app.extensions.setdefault("opsadmin_rate_limit", {"down_until": 0.0})
    if time.monotonic() < breaker["down_until"]:
        return
    item = limits.parse(setting("OPSADMIN_API_RATE_LIMIT"))
    try:
        allowed = limiter.limiter.hit(item, "api-key", key.prefix)
        if allowed:
            return
        reset_at, _ = limiter.limiter.get_window_stats(item, "api-key", key.prefix)
    except (redis.RedisError, OSError):
        # Failing open: a rate-limit store outage must not stop the clinics' bookings.
        retry = float(setting("OPSADMIN_REDIS_RETRY_SECONDS") or 0)
        breaker["down_until"] = time.monotonic() + retry
        current_app.logger.warning("rate-limit storage unavailable; requests not counted")
        return
    retry_after = max(1, math.ceil(reset_at - time.time()))
    abort(
        429,
        message=f"Rate limit of {item} exceeded for this API key.",
        headers={"Retry-After": str(retry_after)},
    )
