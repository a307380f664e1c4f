"""A per-process cache of master data that rarely changes, invalidated through the database.

Reads that need the same few slow-changing rows on every request (a site's hours, closures and
rooms, the credential rules) keep them in memory, per worker process and per engine. They stay
correct across any number of workers and machines because the version they were loaded under is
a row in the database: ``cache_version`` holds one token, and every session flush (or bulk
UPDATE/DELETE/INSERT) that touches a watched table writes a new random token in the same
transaction. A reader reads the token first (:func:`current_version`) and uses its cached copy
only when the copy was built under that token; otherwise it reloads. No TTL: a committed change is
seen by the next request of every worker, an uncommitted one by none but its own transaction.

The token is random rather than a counter, so a rolled-back change (or an emptied table) can never
bring back a token under which other data were cached. Writes that bypass the application (psql,
a data load) must run ``UPDATE cache_version SET value = value + 1`` (any new value) themselves.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from opsadmin.db import Base

T = TypeVar("T")
VERSION_ROW = 1
# Table names whose change invalidates every cached copy (registered by the readers).
_WATCHED: set[str] = set()
_LOCK = threading.Lock()
_CACHES: weakref.WeakKeyDictionary[sa.Engine, dict[Any, tuple[int, Any]]] = (
    weakref.WeakKeyDictionary()
)


class CacheVersion(Base):
    """One row: the token the current master data were written under."""

    __tablename__ = "cache_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(sa.BigInteger)


event.listen(
    CacheVersion.__table__,
    "after_create",
    sa.DDL(f"INSERT INTO cache_version (id, value) VALUES ({VERSION_ROW}, 0)"),
)


def watch(*models: Any) -> None:
    """Declare that a change of any of ``models`` (mapped classes or tables) must invalidate."""
    for model in models:
        table = getattr(model, "__table__", model)
        _WATCHED.add(table.name)


def _new_token() -> int:
    return secrets.randbits(62) + 1


def bump(session: Session) -> None:
    """Write a new token in the session's transaction (a row is created when missing)."""
    table = CacheVersion.__table__
    conn = session.connection()
    token = _new_token()
    done = conn.execute(sa.update(table).where(table.c.id == VERSION_ROW).values(value=token))
    if done.rowcount == 0:
        conn.execute(sa.insert(table).values(id=VERSION_ROW, value=token))


def current_version(session: Session) -> int | None:
    """The token now in force (None when the row is missing: nothing may be cached then)."""
    return session.scalar(sa.select(CacheVersion.value).where(CacheVersion.id == VERSION_ROW))


def cached(session: Session, key: Any, version: int | None, load: Callable[[], T]) -> T:
    """The value cached under ``key`` for this engine if built under ``version``, else ``load()``."""
    if version is None:
        return load()
    cache = _engine_cache(session.get_bind())
    entry = cache.get(key)
    if entry is not None and entry[0] == version:
        return entry[1]
    value = load()
    cache[key] = (version, value)
    return value


def _engine_cache(engine: sa.Engine) -> dict[Any, tuple[int, Any]]:
    with _LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = {}
        return cache


def _touches_watched(session: Session) -> bool:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__table__", None)
        if table is not None and table.name in _WATCHED:
            return True
    return False


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if _WATCHED and _touches_watched(session):
        bump(session)


def _do_orm_execute(state: Any) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in _WATCHED:
        bump(state.session)


def install_version_hook(session_class: Any = Session) -> None:
    """Bump the token on every session of ``session_class`` that writes a watched table."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "do_orm_execute", _do_orm_execute)
