"""``Idempotency-Key`` for the API's POSTs, per API key (IETF idempotency-key draft).

Put :func:`idempotent` below ``api_key_required`` and above the smorest decorators, so the key is
known and the stored body is the final response::

    @api_key_required("write")
    @idempotent
    @blp.arguments(ReferralCreateSchema)
    @blp.response(201, ReferralSchema)
    def post(self, data): ...

A request with the header:

1. claims the key: an ``in_progress`` row is inserted and **committed first**; the unique
   (api_key_id, key) constraint makes two concurrent claims race safely on PostgreSQL and SQLite
   (the loser reads the winner's row and answers from it);
2. a key already claimed answers: the stored status, body and headers with
   ``Idempotent-Replayed: true`` (same request), 422 ``idempotency_key_reused`` (another body or
   endpoint), 409 ``duplicate`` (the first request is still running);
3. runs the view, then stores its response **in the view's own transaction** and commits once,
   so a created row never exists without its record (nor the record without the row);
4. on an error (raised or answered ≥ 400) rolls back and releases the key: nothing was done, so
   the client may retry with the same key.

The wrapped view flushes and never commits: this decorator commits its unit of work (with or
without the header). Records are kept OPSADMIN_IDEMPOTENCY_HOURS (72); :func:`purge_expired`
deletes older ones — on every claim for the calling key, and it is cheap enough for a periodic
job. A claim left ``in_progress`` by a killed process is taken over after
:data:`ABANDONED_AFTER`, so a crash cannot block a key for three days.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, make_response, request
from sqlalchemy.orm import Session

from opsadmin.auth.apikeys import current_api_key
from opsadmin.auth.models import IdempotencyRecord
from opsadmin.config import setting
from opsadmin.db import begin_immediate, utcnow
from opsadmin.errors import DUPLICATE, Conflict, InvalidInput
from opsadmin.extensions import db

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Headers replayed with a stored response (the body's type and where the created thing lives).
STORED_HEADERS = ("Content-Type", "Location")
# Longer than any request may run (gunicorn's timeout): an older claim's process is gone.
ABANDONED_AFTER = dt.timedelta(minutes=5)
KEY_REUSED = "idempotency_key_reused"

HEADER_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": "Makes the POST safe to retry: the same key and body replay the first "
    "response (Idempotent-Replayed: true); another body is 422; kept at least 72 hours, per key.",
}


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Honour an ``Idempotency-Key`` header on a POST and commit the view's unit of work."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return _run(view, args, kwargs, record_id=None)
        answer = claim(db.session(), current_api_key().id, _checked(key), *_fingerprint())
        if isinstance(answer, Response):
            return answer
        return _run(view, args, kwargs, record_id=answer)

    apidoc = {k: v for k, v in getattr(view, "_apidoc", {}).items()}
    manual = dict(apidoc.get("manual_doc", {}))
    manual["parameters"] = [*manual.get("parameters", []), HEADER_DOC]
    apidoc["manual_doc"] = manual
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper


def _run(view: Callable[..., Any], args: Any, kwargs: Any, record_id: int | None) -> Response:
    session = db.session()
    _begin_writer(session)
    try:
        response = make_response(view(*args, **kwargs))
    except BaseException:
        _abandon(session, record_id)
        raise
    if response.status_code >= 400:
        _abandon(session, record_id)
        return response
    if record_id is not None:
        store_response(session, record_id, response)
    session.commit()
    return response


def _begin_writer(session: Session) -> None:
    # On SQLite the unit of work takes the write lock before it reads, so a concurrent writer
    # makes it wait (busy timeout) rather than fail with "database is locked": SQLite refuses at
    # once to upgrade a read transaction to a write when another writer got there first. Nothing
    # is pending here, only reads, so ending an open transaction loses nothing.
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        session.commit()
    begin_immediate(session)


def _abandon(session: Session, record_id: int | None) -> None:
    session.rollback()
    if record_id is not None:
        release(session, record_id)


def _checked(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        message = f"{HEADER} must be 1–{MAX_KEY_LENGTH} printable ASCII characters."
        raise InvalidInput(message, errors={HEADER: [message]})
    return key


def _fingerprint() -> tuple[str, str]:
    """The endpoint and a digest of the request body (JSON compared by value, not by spelling)."""
    endpoint = f"{request.method} {request.path}"
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return endpoint, hashlib.sha256(endpoint.encode() + b"\n" + canonical).hexdigest()


def keep_for() -> dt.timedelta:
    hours = setting("OPSADMIN_IDEMPOTENCY_HOURS")
    return dt.timedelta(hours=int(hours))


def claim(
    session: Session, api_key_id: int, key: str, endpoint: str, request_hash: str
) -> int | Response:
    """Claim ``key`` for this request (committed at once): the record's id, or the answer to give
    instead — a replay, or a raised 422/409.

    The existing record is read before any write, so a duplicate of a request still running
    answers 409 at once, even on SQLite where the running request holds the write lock.
    """
    for _attempt in range(3):
        answer = _answer_existing(session, api_key_id, key, request_hash)
        if answer is not None:
            return answer
        now = utcnow()
        _begin_writer(session)
        purge_expired(session, now, api_key_id=api_key_id)
        record = IdempotencyRecord(
            api_key_id=api_key_id,
            key=key,
            endpoint=endpoint,
            request_hash=request_hash,
            state="in_progress",
            created_at=now,
            expires_at=now + keep_for(),
        )
        session.add(record)
        try:
            session.flush()
            # Read the id before the commit: afterwards the expired row would be reloaded,
            # quietly opening a read transaction that the view's writes would have to upgrade.
            record_id = record.id
            session.commit()
            return record_id
        except sa.exc.IntegrityError:
            # A concurrent request claimed it first: answer as its record says.
            session.rollback()
    raise Conflict(f"{HEADER} {key!r} is busy; retry.", code=DUPLICATE)


def _answer_existing(
    session: Session, api_key_id: int, key: str, request_hash: str
) -> int | Response | None:
    existing = session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at >= utcnow(),
        )
    )
    if existing is None:
        session.commit()
        return None
    session.expunge(existing)  # keep its loaded values past the commit
    session.commit()
    if existing.request_hash != request_hash:
        message = f"{HEADER} {key!r} was used with another request; use a new key."
        raise InvalidInput(message, code=KEY_REUSED, errors={HEADER: [message]})
    if existing.state == "done":
        return replay(existing)
    if _take_over_abandoned(session, existing):
        return existing.id
    raise Conflict(
        f"A request with {HEADER} {key!r} is still being processed; retry later.", code=DUPLICATE
    )


def _take_over_abandoned(session: Session, record: IdempotencyRecord) -> bool:
    if utcnow() - record.created_at < ABANDONED_AFTER:
        return False
    _begin_writer(session)
    taken = session.execute(
        sa.update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.state == "in_progress",
            IdempotencyRecord.created_at == record.created_at,
        )
        .values(created_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return taken.rowcount == 1


def store_response(session: Session, record_id: int, response: Response) -> None:
    """Mark the claim done with the response, in the caller's (the view's) transaction."""
    session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(
            state="done",
            response_status=response.status_code,
            response_body=response.get_data(as_text=True),
            response_headers={
                k: response.headers[k] for k in STORED_HEADERS if k in response.headers
            },
        )
        .execution_options(synchronize_session=False)
    )


def replay(record: IdempotencyRecord) -> Response:
    response = current_app.response_class(
        record.response_body, status=record.response_status, headers=record.response_headers or {}
    )
    response.headers[REPLAYED_HEADER] = "true"
    return response


def release(session: Session, record_id: int) -> None:
    """Forget a claim whose request failed, so the same key may be retried."""
    try:
        _begin_writer(session)
        session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        session.commit()
    except sa.exc.SQLAlchemyError:
        # The original error matters more; an unreleased claim is taken over after ABANDONED_AFTER.
        session.rollback()
        current_app.logger.warning("could not release idempotency claim %s", record_id)


def purge_expired(
    session: Session, now: dt.datetime | None = None, *, api_key_id: int | None = None
) -> int:
    """Delete the records past their expiry (all keys', or one key's); return how many.

    Runs in the caller's transaction (the claim's, which commits it).
    """
    statement = sa.delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < (now or utcnow()))
    if api_key_id is not None:
        statement = statement.where(IdempotencyRecord.api_key_id == api_key_id)
    result = session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount
