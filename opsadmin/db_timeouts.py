"""Client-side bounds on every PostgreSQL round trip, so a hung or blackholed server costs a
request seconds, not gunicorn's whole timeout.

The server enforces ``statement_timeout`` itself, and psycopg bounds connecting with
``connect_timeout``; neither helps once a connection's peer stops answering (a network
blackhole, a frozen server): the client would wait for its reply forever. A watchdog thread
therefore shuts down the socket of a connection whose statement, commit, rollback or checkout
ping outlives its deadline (the statement timeout plus a margin, so the server's own cancel wins
when it can). The driver then sees the connection closed, SQLAlchemy invalidates it, and the
API and console answer 503; the next request reconnects (no restart).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event

POLL_SECONDS = 0.1
MARGIN_SECONDS = 1.0
_STARTING = threading.Lock()


class Watchdog:
    """Deadlines of in-flight round trips, one per DBAPI connection, checked by one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Any]] = {}
        self._pid: int | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        if self._pid != os.getpid():  # first use, or a forked child: its own thread
            with _STARTING:
                if self._pid != os.getpid():
                    self._start()
        with self._lock:
            self._armed[id(dbapi_connection)] = (time.monotonic() + seconds, dbapi_connection)

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._armed = {}
        self._pid = os.getpid()
        threading.Thread(target=self._watch, name="opsadmin-db-watchdog", daemon=True).start()

    def _watch(self) -> None:
        pid = self._pid
        while self._pid == pid:
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [key for key, (deadline, _) in self._armed.items() if deadline <= now]
                for key in expired:
                    _shut_down(self._armed.pop(key)[1])


def _shut_down(dbapi_connection: Any) -> None:
    """End the connection's socket: the waiting driver sees it closed at once."""
    try:
        fd = dbapi_connection.fileno()
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        # Already closed, or not a socket any more: nothing is waiting on it.
        return


WATCHDOG = Watchdog()


def install(engine: sa.Engine, *, statement_seconds: float, connect_seconds: float) -> None:
    """Bound ``engine``'s round trips: statements, commits and rollbacks by the statement timeout
    (plus a margin), the checkout ping and the pool's reset by the connect timeout."""
    statement = statement_seconds + MARGIN_SECONDS if statement_seconds else 0.0

    def arm_statement(dbapi_connection: Any) -> None:
        if statement:
            WATCHDOG.arm(dbapi_connection, statement)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(conn, cursor, statement_text, parameters, context, executemany) -> None:
        arm_statement(cursor.connection)

    @event.listens_for(engine, "after_cursor_execute")
    def _after_execute(conn, cursor, statement_text, parameters, context, executemany) -> None:
        WATCHDOG.disarm(cursor.connection)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        cursor = getattr(context, "cursor", None)
        if cursor is not None:
            WATCHDOG.disarm(cursor.connection)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: sa.Connection) -> None:
        if not conn.invalidated and not conn.closed:  # else no round trip follows
            arm_statement(conn.connection.dbapi_connection)

    _install_pool_events(engine, connect_seconds)


def _install_pool_events(engine: sa.Engine, connect_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _fresh(dbapi_connection: Any, record: Any) -> None:
        record.info["opsadmin_fresh"] = True

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """The pool's pre-ping, bounded: a connection that does not answer is replaced."""
        if record.info.pop("opsadmin_fresh", False):
            return
        WATCHDOG.arm(dbapi_connection, connect_seconds)
        try:
            # In autocommit: one round trip, and the connection is handed over idle (no
            # transaction left open by the ping, so a view may still choose autocommit).
            dbapi_connection.autocommit = True
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.autocommit = False
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.DisconnectionError(str(error)) from error
        finally:
            WATCHDOG.disarm(dbapi_connection)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        WATCHDOG.arm(dbapi_connection, connect_seconds)

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            WATCHDOG.disarm(dbapi_connection)
