"""Declarative base with a constraint naming convention, shared column types and mixins."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, scoped_session
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware in UTC (call it; never evaluate it at import)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored in UTC.

    SQLite keeps no offset, so values are normalised to UTC on the way in and marked UTC on the
    way out; naive datetimes are refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: opsadmin stores timezone-aware datetimes only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime()},
    )


def enum_column(values: tuple[str, ...], name: str, **kwargs: Any) -> Mapped[str]:
    """A string column restricted to ``values`` by a named CHECK constraint (portable, easy to migrate)."""
    return mapped_column(
        sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32),
        **kwargs,
    )


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


SQLITE_IMMEDIATE = "opsadmin_sqlite_begin_immediate"


def install_sqlite_pragmas(engine: sa.Engine) -> None:
    """SQLite as a server-ish database: foreign keys on, WAL, and transactions we begin ourselves.

    pysqlite's own transaction handling is switched off so that a booking can open its
    transaction with ``BEGIN IMMEDIATE`` (see :func:`begin_immediate`) and take the write lock
    before it reads, which serialises concurrent bookings across processes without ever
    answering "database is locked" (the busy timeout makes a second writer wait).
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_immediate(session: Any) -> None:
    """Start the session's transaction as a writer (SQLite: BEGIN IMMEDIATE; elsewhere a no-op).

    Call it first thing in a unit of work that must serialise with other writers, before any read.
    Inside a transaction it opened itself it is a no-op, so a unit of work may book several times.
    On PostgreSQL the booking service locks the room row instead (SELECT … FOR UPDATE).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if isinstance(session, scoped_session):
        # Flask-SQLAlchemy's db.session is a registry: the transaction state is its session's.
        session = session()
    if session.in_transaction():
        # A unit of work made of several bookings (a treatment course) opened it as the writer
        # already; any other open transaction may have read before taking the lock.
        if session.connection().get_execution_options().get(SQLITE_IMMEDIATE):
            return
        raise RuntimeError("begin_immediate() must open the transaction: commit or roll back first")
    session.connection(execution_options={SQLITE_IMMEDIATE: True})
