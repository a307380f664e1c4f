"""A poller resuming from ``next_after`` never misses an event of a transaction that commits late.

Transaction A writes its change and takes its event id first, then waits; transaction B, started
in another thread, changes another site and commits. Ids follow commit order (PostgreSQL: an
advisory lock held from the event insert to the commit; SQLite: one writer at a time), so B
cannot publish a later id while A is in flight: a poller reading in between sees neither, and
resuming from its cursor after both commits gets both, in order.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.db import begin_immediate
from opsadmin.events.models import Event
from opsadmin.events.service import _before_commit
from opsadmin.extensions import db
from opsadmin.locations.models import Location

pytestmark = pytest.mark.slow


def poll(client, headers, after):
    response = client.get("/api/v1/events", query_string={"after": after}, headers=headers)
    assert response.status_code == 200
    return response.get_json()


def rename(session: Session, code: str, name: str) -> None:
    session.scalars(sa.select(Location).where(Location.code == code)).one().name = name


def test_poller_resuming_from_next_after_gets_a_late_commit(client, api_headers, chain, session):
    headers = api_headers("read")
    # (This first poll also records the key's use, so the polls below only read.)
    cursor = poll(client, headers, 0)["next_after"]

    engine = db.engine
    first = Session(engine)
    begin_immediate(first)
    rename(first, "GRN", "Greencastle (A)")
    first.flush()
    _before_commit(first)  # the hook's commit step: A's event row takes its id; A stays open
    event_a = first.scalar(sa.select(sa.func.max(Event.id)))

    committed: list[str] = []

    def second_transaction() -> None:
        with Session(engine) as second:
            begin_immediate(second)  # an app writer on SQLite (a no-op on PostgreSQL)
            rename(second, "CHI", "Chicago (B)")
            second.commit()
            committed.append("B")

    thread = threading.Thread(target=second_transaction)
    thread.start()
    time.sleep(1.0)  # B has done all it can; it must wait for A, not publish past it
    between = poll(client, headers, cursor)
    assert between["events"] == []
    assert thread.is_alive() and committed == []
    cursor = between["next_after"]

    first.commit()
    committed.append("A")
    thread.join(timeout=30)
    first.close()
    assert committed == ["A", "B"]

    after = poll(client, headers, cursor)
    assert [(e["type"], e["data"]) for e in after["events"]] == [
        ("location.updated", {"code": "GRN"}),
        ("location.updated", {"code": "CHI"}),
    ]
    assert after["events"][0]["id"] == event_a
    assert after["next_after"] == after["events"][-1]["id"]
    session.rollback()
    assert session.scalar(sa.select(sa.func.count(Event.id)).where(Event.id > cursor)) == 2
