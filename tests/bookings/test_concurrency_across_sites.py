"""The double-booking rules under truly concurrent requests: of two conflicting bookings, exactly
one wins — the clinician at two sites (staff_double_booked), the patient in two chairs
(patient_double_booked). Pairs of PUTs fired at once through a live server (see
test_concurrency.py); on PostgreSQL the clinician's row and an advisory lock on the patient
reference serialise them, on SQLite BEGIN IMMEDIATE does.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.bookings import test_concurrency as live
from tests.bookings.conftest import CHICAGO, DAY, at
from tests.conftest import POSTGRES
from tests.factories import RoomFactory, licensed_clinician

pytestmark = pytest.mark.slow
# The live server and its pool sized for concurrent requests, as test_concurrency.py has them.
app_config, server, fire = live.app_config, live.server, live.fire
PAIRS = 12  # 24 requests at once


def _body(location: str, room_id: int, staff_id: int, patient: str, tz=None) -> dict:
    start, end = (
        (at(DAY, "09:00"), at(DAY, "11:00"))
        if tz is None
        else (
            at(DAY, "08:30", tz),
            at(DAY, "10:30", tz),  # 09:30–11:30 in Greencastle
        )
    )
    return {
        "location": location, "room_id": room_id, "staff_id": staff_id, "kind": "infusion",
        "indication": "migraine", "patient_ref": patient,
        "starts_at": start.isoformat(), "ends_at": end.isoformat(),
    }  # fmt: skip


@pytest.fixture
def big_rooms(session, chain):
    """Rooms with a chair for every request, so capacity never decides."""
    rooms = (
        RoomFactory(location=chain.grn, name="Hall", kind="infusion", capacity=2 * PAIRS),
        RoomFactory(location=chain.chi, name="Hall", kind="infusion", capacity=2 * PAIRS),
    )
    session.commit()
    return rooms


def _winners_per_pair(answers: list, code: str) -> Counter:
    outcomes = Counter()
    for n in range(PAIRS):
        pair = [answers[2 * n], answers[2 * n + 1]]
        statuses = sorted(status for status, _ in pair)
        codes = [body.get("code") for status, body in pair if status != 201]
        outcomes[(tuple(statuses), tuple(codes))] += 1
    return outcomes


def clinician_at_two_sites_once(session, chain, big_rooms, server, api_headers) -> None:
    grn_hall, chi_hall = big_rooms
    doctors = [
        licensed_clinician([chain.grn, chain.chi], states=("IN", "IL")) for _ in range(PAIRS)
    ]
    session.commit()
    requests = []
    for n, dr in enumerate(doctors):
        requests.append((f"S-{n}-GRN", _body("GRN", grn_hall.id, dr.id, f"P-{n}-A")))
        requests.append((f"S-{n}-CHI", _body("CHI", chi_hall.id, dr.id, f"P-{n}-B", CHICAGO)))
    answers = fire(server, requests, api_headers("read", "write"))
    assert _winners_per_pair(answers, "staff_double_booked") == {
        ((201, 409), ("staff_double_booked",)): PAIRS
    }, answers


def patient_in_two_chairs_once(session, chain, big_rooms, server, api_headers) -> None:
    grn_hall, chi_hall = big_rooms
    doctors = [licensed_clinician([chain.grn, chain.chi], states=("IN", "IL")) for _ in range(2)]
    session.commit()
    requests = []
    for n in range(PAIRS):
        requests.append((f"P-{n}-GRN", _body("GRN", grn_hall.id, doctors[0].id, f"P-{n}")))
        requests.append((f"P-{n}-CHI", _body("CHI", chi_hall.id, doctors[1].id, f"P-{n}", CHICAGO)))
    answers = fire(server, requests, api_headers("read", "write"))
    assert _winners_per_pair(answers, "patient_double_booked") == {
        ((201, 409), ("patient_double_booked",)): PAIRS
    }, answers


needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="needs PostgreSQL: set DATABASE_URL=postgresql://…"
)
on_sqlite_only = pytest.mark.skipif(POSTGRES, reason="the suite runs on PostgreSQL (DATABASE_URL)")


@needs_postgres
@pytest.mark.postgres
def test_concurrent_bookings_of_one_clinician_at_two_sites_on_postgresql(
    session,
    chain,
    big_rooms,
    server,
    api_headers,
):
    clinician_at_two_sites_once(session, chain, big_rooms, server, api_headers)


@needs_postgres
@pytest.mark.postgres
def test_concurrent_bookings_of_one_patient_in_two_chairs_on_postgresql(
    session,
    chain,
    big_rooms,
    server,
    api_headers,
):
    patient_in_two_chairs_once(session, chain, big_rooms, server, api_headers)


@on_sqlite_only
def test_concurrent_double_bookings_on_sqlite(session, chain, big_rooms, server, api_headers):
    clinician_at_two_sites_once(session, chain, big_rooms, server, api_headers)
    patient_in_two_chairs_once(session, chain, big_rooms, server, api_headers)
