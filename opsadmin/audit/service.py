"""Audit trail: one session-level hook records every create/update/delete, from any surface.

The actor of the current request or job is held in a context variable; the API, the console and
the jobs set it. Events are added to the same session, so they commit (or roll back) with the change.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import decimal
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, attributes, scoped_session

from opsadmin.audit.models import AuditEvent
from opsadmin.db import utcnow

# Columns whose values never go into the audit log (secrets), or add nothing to it.
REDACTED = {"password_hash", "totp_secret", "digest", "token_hash", "request_hash", "secret"}
SKIPPED = {
    "created_at",
    "updated_at",
    "html",
    "text",
    "csv",
    "png",
    "charts",
    "figures",
    "response_body",
}
# Tables whose rows are bookkeeping of the audit or of sessions themselves, not business writes.
UNAUDITED = {
    "appointment_risk",  # derived: the bookings-at-risk judge's verdicts, redone on every write
    "audit_event",
    "console_session",
    "event",
    "webhook_delivery",
    "webhook_attempt",
    "login_failure",
    "idempotency_record",
    "staff_location",
    "user_region",
}


@dataclass(frozen=True)
class Actor:
    type: str  # user | api_key | system | anonymous
    id: int | None = None
    label: str = "system"
    ip: str = ""


SYSTEM = Actor("system", None, "system")
_current_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current_actor.get()


def set_actor(actor: Actor) -> contextvars.Token:
    return _current_actor.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current_actor.set(actor)
    try:
        yield actor
    finally:
        _current_actor.reset(token)


def record(
    session: Session,
    action: str,
    *,
    entity: str = "",
    entity_id: Any = "",
    detail: str = "",
    changes: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEvent:
    """Add an explicit audit event (login, view, export, sent …) to the session's transaction."""
    actor = actor or current_actor()
    audit_event = AuditEvent(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        entity=entity,
        entity_id=str(entity_id if entity_id is not None else ""),
        detail=detail,
        changes=changes,
        ip=actor.ip,
    )
    session.add(audit_event)
    return audit_event


def record_view(session: Any, entity: str, rows: list[Any]) -> None:
    """Record that the current actor read ``rows`` (patient-linked), and commit it without
    expiring the rows, which are about to be presented."""
    ids = [row.id for row in rows]
    record(
        session,
        "view",
        entity=entity,
        entity_id=ids[0] if len(ids) == 1 else "",
        detail=f"{len(ids)} {entity} row(s) read",
        changes={"ids": ids},
    )
    real = session() if isinstance(session, scoped_session) else session
    keep = real.expire_on_commit
    real.expire_on_commit = False
    try:
        real.commit()
    finally:
        real.expire_on_commit = keep


def audited_read(entity: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For an API read whose rows carry ``patient_ref``: the row, or the page of a paginated
    list, that the view returns is recorded as a ``view`` by the current actor (the API key).

    Place it under ``@blp.response`` and above ``@blp.paginate``, so it sees the page's rows.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from opsadmin.db import begin_immediate
            from opsadmin.extensions import db

            if not db.session().in_transaction():
                begin_immediate(db.session)  # SQLite: this read writes its audit event
            result = func(*args, **kwargs)
            rows = result[0] if isinstance(result, tuple) else result  # (page, status, headers)
            record_view(db.session, entity, list(rows) if isinstance(rows, list) else [rows])
            return result

        return wrapper

    return decorate


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _column_changes(obj: Any, *, new: bool) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    mapper = sa.inspect(obj).mapper
    for attr in mapper.column_attrs:
        key = attr.key
        if key in SKIPPED:
            continue
        history = attributes.get_history(obj, key)
        if new:
            value = getattr(obj, key)
            if value is None:
                continue
            changes[key] = "<redacted>" if key in REDACTED else _plain(value)
        elif history.has_changes():
            if key in REDACTED:
                changes[key] = "<changed>"
                continue
            old = history.deleted[0] if history.deleted else None
            changes[key] = [_plain(old), _plain(getattr(obj, key))]
    return changes


def _relationship_changes(obj: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for rel in sa.inspect(obj).mapper.relationships:
        if rel.secondary is None:
            continue  # plain relationships show up as their foreign-key columns
        history = attributes.get_history(obj, rel.key)
        if history.has_changes():
            changes[rel.key] = {
                "added": [str(x) for x in history.added],
                "removed": [str(x) for x in history.deleted],
            }
    return changes


def _entity_id(obj: Any) -> str:
    # The primary key from the instance itself: in after_flush a new row's identity key is not
    # assigned yet, but its primary-key attributes are.
    state = sa.inspect(obj)
    identity = state.mapper.primary_key_from_instance(obj)
    if identity and all(part is not None for part in identity):
        return ",".join(str(part) for part in identity)
    return ""


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    actor = current_actor()
    pending: list[tuple[Any, str, dict[str, Any]]] = []
    for obj in list(session.new):
        if obj.__table__.name not in UNAUDITED:
            pending.append((obj, "create", _column_changes(obj, new=True)))
    for obj in list(session.dirty):
        if obj.__table__.name in UNAUDITED or not session.is_modified(obj):
            continue
        changes = _column_changes(obj, new=False) | _relationship_changes(obj)
        if changes:
            pending.append((obj, "update", changes))
    for obj in list(session.deleted):
        if obj.__table__.name not in UNAUDITED:
            pending.append((obj, "delete", {"was": str(obj)}))
    for obj, action, changes in pending:
        values = {
            "actor_type": actor.type,
            "actor_id": actor.id,
            "actor_label": actor.label,
            "action": action,
            "entity": type(obj).__name__,
            "entity_id": _entity_id(obj),
            "changes": changes,
            "ip": actor.ip,
        }
        if action == "create" and not values["entity_id"]:
            # A new row's id is known only after the flush: its event is inserted then.
            session.info.setdefault("audit_new", []).append((values, obj))
        else:
            session.add(AuditEvent(**values))


def _after_flush(session: Session, flush_context: Any) -> None:
    """Insert the events of the rows just created, with their ids.

    Inserted, never updated afterwards: the application's database role may not UPDATE the
    audit log. One executemany on the Core table: it stays out of another flush cycle, and a
    bulk seed of thousands of rows costs one statement rather than one per row.
    """
    pending = session.info.pop("audit_new", [])
    if pending:
        now = utcnow()
        rows = [{**values, "entity_id": _entity_id(obj), "at": now} for values, obj in pending]
        session.execute(sa.insert(AuditEvent.__table__), rows)


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop("audit_new", None)


def install_audit_hook(session_class: Any = Session) -> None:
    """Listen on every session of ``session_class`` (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush", _after_flush)
        event.listen(session_class, "after_soft_rollback", _after_rollback)
