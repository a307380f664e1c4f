"""Concurrent course bookings for the last chairs, through a live server: never overbooked.

Every course needs the same last chairs of two rooms, half of them listing the rooms in the other
order, so a course that locked rooms as it went would deadlock against another; the service locks
every room of a course in one order first. Exactly one course wins; the others are refused
whole (room_at_capacity, with their session's index) and leave no appointment behind.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from opsadmin.bookings.models import Appointment
from tests.bookings.conftest import DAY, at
from tests.bookings.test_concurrency import server  # noqa: F401 - the live-server fixture
from tests.conftest import POSTGRES
from tests.factories import AppointmentFactory, ReferralFactory, RoomFactory

pytestmark = pytest.mark.slow
COURSES = 8


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return app_config | {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": COURSES + 4, "max_overflow": 8}}


def post_all(address, requests: list[tuple[int, dict]], headers: dict) -> list:
    """POST every (referral id, body) at once, each from its own thread and connection."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def send(index: int, referral_id: int, body: dict) -> None:
        connection = http.client.HTTPConnection(*address, timeout=60)
        try:
            connection.connect()
            barrier.wait(timeout=30)
            connection.request(
                "POST",
                f"/api/v1/referrals/{referral_id}/course",
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
        threading.Thread(target=send, args=(i, referral_id, body))
        for i, (referral_id, body) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def last_chairs_go_to_one_course(session, chain, server, api_headers) -> None:  # noqa: F811
    headers = api_headers("read", "write")
    second_room = RoomFactory(location=chain.grn, kind="infusion", capacity=2)
    days = [DAY + dt.timedelta(days=2 * n) for n in range(3)]
    # Every room has one chair left at 09:00–11:00 on each day of the course.
    for day in days:
        for room, taken in ((chain.infusion, 2), (second_room, 1)):
            for n in range(taken):
                AppointmentFactory(
                    room=room,
                    staff=chain.dr_in,
                    patient_ref=f"P-FULL-{room.id}-{n}",
                    starts_at=at(day, "09:00"),
                    ends_at=at(day, "11:00"),
                )
    referrals = [
        ReferralFactory(consult_location=chain.grn, status="approved", patient_ref=f"P-CRS-{n}")
        for n in range(COURSES)
    ]
    session.commit()
    before = session.scalar(sa.select(sa.func.count()).select_from(Appointment))

    def course(n: int) -> dict:
        # The same three chairs for every course; half list them in another order, so that a
        # service locking rooms as it went would take the two rooms in opposite orders.
        sessions = [
            {
                "external_id": f"CRS-{n}-{i}",
                "room_id": room.id,
                "staff_id": chain.dr_in.id,
                "starts_at": at(day, "09:00").isoformat(),
                "ends_at": at(day, "11:00").isoformat(),
            }
            for i, (room, day) in enumerate(
                zip([chain.infusion, second_room, chain.infusion], days, strict=True)
            )
        ]
        if n % 2:
            sessions[0], sessions[1] = sessions[1], sessions[0]
        return {"sessions": sessions}

    answers = post_all(server, [(r.id, course(n)) for n, r in enumerate(referrals)], headers)

    outcomes = Counter(
        (status, None if status == 201 else (body or {}).get("code")) for status, body in answers
    )
    assert outcomes[(201, None)] == 1, answers
    assert outcomes[(409, "room_at_capacity")] == COURSES - 1, answers
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == before + 3
    for room, capacity in ((chain.infusion, 3), (second_room, 2)):
        for day in days:
            overlapping = session.scalar(
                sa.select(sa.func.count())
                .select_from(Appointment)
                .where(
                    Appointment.room_id == room.id,
                    Appointment.status != "cancelled",
                    Appointment.starts_at < at(day, "11:00"),
                    Appointment.ends_at > at(day, "09:00"),
                )
            )
            assert overlapping <= capacity


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: set DATABASE_URL=postgresql://…")
@pytest.mark.postgres
def test_concurrent_courses_on_postgresql_never_overbook_the_last_chairs(
    session,
    chain,
    server,  # noqa: F811
    api_headers,
):
    # Acceptance 5.
    last_chairs_go_to_one_course(session, chain, server, api_headers)


@pytest.mark.skipif(POSTGRES, reason="the suite runs on PostgreSQL (DATABASE_URL)")
def test_concurrent_courses_on_sqlite_never_overbook_the_last_chairs(
    session,
    chain,
    server,  # noqa: F811
    api_headers,
):
    last_chairs_go_to_one_course(session, chain, server, api_headers)
