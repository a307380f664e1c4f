"""Concurrent bookings of the last chairs, through a live server: never overbooked, never "locked".

A real threaded werkzeug server on 127.0.0.1 (a random free port) serves the app; each client
thread opens its own HTTP connection, so each request runs in its own server thread with its own
database connection. A barrier releases them together. On PostgreSQL the room row lock
serialises them; on SQLite (a file database) BEGIN IMMEDIATE with the busy timeout does.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from opsadmin.bookings.models import Appointment
from tests.bookings.conftest import DAY, at
from tests.conftest import POSTGRES

pytestmark = pytest.mark.slow
REQUESTS = 32


@pytest.fixture
def app_config(app_config: dict) -> dict:
    # One pooled connection per concurrent request, so none waits for the pool instead of the lock.
    return app_config | {
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": REQUESTS + 4, "max_overflow": 8}
    }


@pytest.fixture
def server(app) -> Iterator[tuple[str, int]]:
    live = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=live.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", live.port
    finally:
        live.shutdown()
        thread.join(timeout=10)


def fire(address: tuple[str, int], requests: list[tuple[str, dict]], headers: dict) -> list:
    """PUT every (external_id, body) at once, each from its own thread and connection."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def send(index: int, external_id: str, body: dict) -> None:
        connection = http.client.HTTPConnection(*address, timeout=60)
        try:
            connection.connect()
            barrier.wait(timeout=30)
            connection.request(
                "PUT",
                f"/api/v1/appointments/{external_id}",
                body=json.dumps(body),
                headers=headers | {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            answers[index] = (response.status, json.loads(response.read() or b"null"))
        except Exception as error:  # reported by the assertion below, not lost in a thread
            answers[index] = ("error", repr(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(i, external_id, body))
        for i, (external_id, body) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def booking_body(chain, **fields) -> dict:
    return {
        "location": "GRN",
        "room_id": chain.infusion.id,
        "staff_id": chain.dr_in.id,
        "kind": "infusion",
        "indication": "migraine",
        "patient_ref": "P-1",
        "starts_at": at(DAY, "09:00").isoformat(),
        "ends_at": at(DAY, "11:00").isoformat(),
    } | fields


def outcomes(answers: list) -> Counter:
    return Counter(
        (status, None if status in (200, 201) else (body or {}).get("code"))
        for status, body in answers
    )


def rows(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(Appointment))


def overlapping_puts_fill_exactly_the_capacity(session, chain, server, api_headers) -> None:
    headers = api_headers("read", "write")
    # Overlapping, not identical: staggered starts all sharing 10:00–10:30.
    starts = ["08:30", "09:00", "09:30", "10:00"]
    requests = [
        (
            f"BK-C{n}",
            booking_body(
                chain,
                patient_ref=f"P-{n}",
                starts_at=at(DAY, starts[n % 4]).isoformat(),
                ends_at=at(DAY, "10:30").isoformat(),
            ),
        )
        for n in range(REQUESTS)
    ]
    answers = fire(server, requests, headers)
    assert outcomes(answers) == {(201, None): 3, (409, "room_at_capacity"): REQUESTS - 3}
    assert rows(session) == 3


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: set DATABASE_URL=postgresql://…")
@pytest.mark.postgres
def test_concurrent_puts_on_postgresql_take_exactly_the_three_chairs(
    session, chain, server, api_headers
):
    overlapping_puts_fill_exactly_the_capacity(session, chain, server, api_headers)


@pytest.mark.skipif(POSTGRES, reason="the suite runs on PostgreSQL (DATABASE_URL)")
def test_concurrent_puts_on_sqlite_take_exactly_the_three_chairs_and_never_lock(
    session, chain, server, api_headers
):
    overlapping_puts_fill_exactly_the_capacity(session, chain, server, api_headers)


def test_concurrent_puts_of_one_external_id_create_one_row(session, chain, server, api_headers):
    headers = api_headers("read", "write")
    answers = fire(server, [("BK-SAME", booking_body(chain))] * 12, headers)
    counted = outcomes(answers)
    assert counted[(201, None)] == 1
    # The others saw it (an identical PUT, 200) or lost the insert race (409 duplicate).
    assert counted[(201, None)] + counted[(200, None)] + counted[(409, "duplicate")] == 12
    assert rows(session) == 1
