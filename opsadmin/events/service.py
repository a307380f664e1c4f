"""The transactional outbox: one session hook turns watched changes into event rows.

Features say what a change of one of their rows means with :func:`watch` (a describer returns
the ``(type, data)`` pairs for a created, updated or deleted row); the hook does the rest, for
every surface (API, console, jobs, CLI) alike, so request code never "publishes":

- ``before_flush`` notes the watched rows each flush touches (a deleted row is described there
  and then, while it can still be read);
- ``before_commit`` flushes, describes the touched rows once in their final state, and adds the
  event rows, and one webhook delivery per subscribed endpoint, to the same transaction;
- ``after_commit`` hands the new deliveries to the ``webhooks`` queue (a rollback drops all).

Ids are numbered in commit order: on PostgreSQL the events of a transaction are inserted under a
transaction-scoped advisory lock held until its commit, and SQLite has one writer at a time. So
a feed reader that has seen id N will never later find a committed id below N
(:func:`events_after` can page by id alone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from opsadmin.events.models import Event, WebhookDelivery, WebhookEndpoint

Describer = Callable[[Session, Any, str], Iterable[tuple[str, dict[str, Any]]]]

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# Any constant both sides agree on: the feed's order is the order of this lock.
EVENT_LOCK_KEY = 0x6F70735F657674  # "ops_evt"

_TOUCHED = "events_touched"
_DESCRIBED = "events_described"
_DUE = "webhook_deliveries_due"
_watchers: dict[type, Describer] = {}
_after_commit_hooks: list[Callable[[list[int]], None]] = []


def watch(model: type, describe: Describer) -> None:
    """Record events for changes of ``model`` rows: ``describe(session, row, change)`` with
    ``change`` one of ``create``, ``update``, ``delete`` returns ``(type, data)`` pairs."""
    _watchers[model] = describe


def record_event(session: Session, kind: str, data: dict[str, Any]) -> None:
    """Add an event no row change shows (a judgement, e.g. ``appointment.at_risk``) to the
    session's transaction: written with the others at commit, gone with a rollback."""
    session.info.setdefault(_DESCRIBED, []).append((kind, data))


def on_deliveries_committed(callback: Callable[[list[int]], None]) -> None:
    """Call ``callback(delivery_ids)`` after a commit that created webhook deliveries."""
    if callback not in _after_commit_hooks:
        _after_commit_hooks.append(callback)


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if not _watchers:
        return
    touched: dict[int, tuple[Any, str]] = session.info.setdefault(_TOUCHED, {})
    for obj in session.new:
        if type(obj) in _watchers:
            touched[id(obj)] = (obj, "create")
    for obj in session.dirty:
        if type(obj) in _watchers and id(obj) not in touched and session.is_modified(obj):
            touched[id(obj)] = (obj, "update")
    for obj in session.deleted:
        describe = _watchers.get(type(obj))
        if describe is not None:
            touched.pop(id(obj), None)
            session.info.setdefault(_DESCRIBED, []).extend(describe(session, obj, "delete"))


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the outer transaction's commit writes the events
    session.flush()  # every change in, every id assigned (a no-op when nothing is pending)
    if not session.info.get(_TOUCHED) and not session.info.get(_DESCRIBED):
        return
    described = list(session.info.pop(_DESCRIBED, []))
    for obj, change in session.info.pop(_TOUCHED, {}).values():
        if sa.inspect(obj).persistent:
            described.extend(_watchers[type(obj)](session, obj, change))
    unique: dict[str, tuple[str, dict[str, Any]]] = {}
    for kind, data in described:
        unique.setdefault(kind + repr(sorted(data.items())), (kind, data))
    if unique:
        write_events(session, list(unique.values()))


def write_events(session: Session, described: list[tuple[str, dict[str, Any]]]) -> list[Event]:
    """Add the events (and their webhook deliveries) to the session's transaction, in order."""
    if session.get_bind().dialect.name == "postgresql":
        # Held until this transaction ends: ids are taken and committed one transaction at a time.
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(EVENT_LOCK_KEY)))
    occurred_at = now()
    rows = [Event(type=kind, data=data, occurred_at=occurred_at) for kind, data in described]
    session.add_all(rows)
    session.flush()
    endpoints = session.scalars(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.active.is_(True), WebhookEndpoint.deleted_at.is_(None)
        )
    ).all()
    deliveries = [
        WebhookDelivery(endpoint_id=endpoint.id, event_id=row.id, next_attempt_at=occurred_at)
        for row in rows
        for endpoint in endpoints
        if row.type in endpoint.events
    ]
    if deliveries:
        session.add_all(deliveries)
        session.flush()
        mark_due(session, [d.id for d in deliveries])
    return rows


def _after_commit(session: Session) -> None:
    due = session.info.pop(_DUE, [])
    if due:
        for callback in _after_commit_hooks:
            callback(due)


def mark_due(session: Session, delivery_ids: list[int]) -> None:
    """Hand these deliveries to the queue once the session's transaction commits."""
    session.info.setdefault(_DUE, []).extend(delivery_ids)


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        return
    for key in (_TOUCHED, _DESCRIBED, _DUE):
        session.info.pop(key, None)


def install_event_hook(session_class: Any = Session) -> None:
    """Listen on every session of ``session_class`` (idempotent)."""
    if not sa_event.contains(session_class, "before_flush", _before_flush):
        sa_event.listen(session_class, "before_flush", _before_flush)
        sa_event.listen(session_class, "before_commit", _before_commit)
        sa_event.listen(session_class, "after_commit", _after_commit)
        sa_event.listen(session_class, "after_soft_rollback", _after_rollback)


def now() -> dt.datetime:
    """The current instant (one place, so tests can move the clock)."""
    from opsadmin.db import utcnow

    return utcnow()


def events_after(
    session: Session, after: int = 0, limit: int = DEFAULT_LIMIT, type_: str | None = None
) -> tuple[list[Event], int]:
    """The events with ``id > after``, oldest first, and the cursor to resume from."""
    query = sa.select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    if type_:
        query = query.where(Event.type == type_)
    rows = list(session.scalars(query))
    return rows, rows[-1].id if rows else after
