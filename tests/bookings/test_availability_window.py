"""Availability over a window (``from``/``to``, at most 14 days) and the sweep behind free chairs."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from opsadmin.bookings.availability import Occupancy
from opsadmin.bookings.service import max_overlap
from opsadmin.locations.models import LocationClosure
from opsadmin.rooms.models import RoomClosure
from tests.bookings.conftest import DAY, at

PATH = "/api/v1/locations/GRN/availability"
PROBLEM = "application/problem+json"


@pytest.fixture
def headers(api_headers):
    return api_headers("read")


def get(client, headers, **query):
    return client.get(PATH, query_string={"kind": "infusion", "duration": 120} | query,
                      headers=headers)  # fmt: skip


def test_a_week_answers_each_day_as_the_single_day_call_does(client, headers, session, book, chain):
    book(starts_at=at(DAY, "09:00"), ends_at=at(DAY, "11:00"))
    book(starts_at=at(DAY + dt.timedelta(days=2), "13:00"), ends_at=at(DAY + dt.timedelta(days=2), "15:00"))  # fmt: skip
    session.add(LocationClosure(location=chain.grn, starts_on=DAY + dt.timedelta(days=4),
                                ends_on=DAY + dt.timedelta(days=4)))  # fmt: skip
    session.add(RoomClosure(room=chain.infusion, starts_at=at(DAY + dt.timedelta(days=5), "12:00"),
                            ends_at=at(DAY + dt.timedelta(days=5), "14:00")))  # fmt: skip
    session.commit()
    last = DAY + dt.timedelta(days=6)
    response = get(client, headers, **{"from": DAY.isoformat(), "to": last.isoformat()})
    assert response.status_code == 200
    week = response.get_json()
    assert (week["location"], week["kind"], week["duration"]) == ("GRN", "infusion", 120)
    assert [d["date"] for d in week["days"]] == [
        (DAY + dt.timedelta(days=n)).isoformat() for n in range(7)
    ]
    for entry in week["days"]:
        one = get(client, headers, date=entry["date"]).get_json()
        assert entry == {k: one[k] for k in ("date", "slots", "eligible_staff")}
    by_date = {d["date"]: d for d in week["days"]}
    assert by_date[(DAY + dt.timedelta(days=4)).isoformat()]["slots"] == []  # the holiday
    assert by_date[DAY.isoformat()]["slots"][0]["free_chairs"] == 2


def test_one_day_window_equals_the_date_call(client, headers, chain):
    window = get(client, headers, **{"from": DAY.isoformat(), "to": DAY.isoformat()}).get_json()
    day = get(client, headers, date=DAY.isoformat()).get_json()
    assert window["days"] == [{k: day[k] for k in ("date", "slots", "eligible_staff")}]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-12-01", "to": "2026-12-15"}, "to"),  # 15 days
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to"),  # backwards
        ({"from": "2026-12-01"}, "to"),
        ({"to": "2026-12-01"}, "from"),
        ({"date": "2026-12-01", "from": "2026-12-01", "to": "2026-12-02"}, "date"),
    ],
)
def test_a_window_longer_than_14_days_or_malformed_is_422(client, headers, chain, query, field):
    response = get(client, headers, **query)
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    problem = response.get_json()
    assert problem["code"] == "invalid_input"
    assert field in problem["errors"]


def test_fourteen_days_are_allowed(client, headers, chain):
    response = get(client, headers, **{"from": "2026-12-01", "to": "2026-12-14"})
    assert response.status_code == 200
    assert len(response.get_json()["days"]) == 14


def test_the_window_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    names = {p["name"] for p in spec["paths"]["/api/v1/locations/{code}/availability"]["get"]["parameters"]}  # fmt: skip
    assert {"date", "from", "to", "kind", "duration"} <= names
    answer = spec["paths"]["/api/v1/locations/{code}/availability"]["get"]["responses"]["200"]
    refs = answer["content"]["application/json"]["schema"]["oneOf"]
    assert {r["$ref"].rsplit("/", 1)[1] for r in refs} == {"Availability", "AvailabilityWindow"}


def test_the_sweep_counts_chairs_as_the_booking_rule_does():
    """Occupancy.most is max_overlap (the capacity rule's arithmetic) for any bookings and slot."""
    rng = random.Random(16)
    base = dt.datetime(2026, 12, 1, 13, tzinfo=dt.UTC)
    minute = dt.timedelta(minutes=1)
    for _ in range(300):
        booked = []
        for _ in range(rng.randint(0, 12)):
            start = base + rng.randint(0, 600) * minute
            booked.append((start, start + rng.choice((15, 30, 60, 120, 240)) * minute))
        occupancy = Occupancy(booked)
        for _ in range(20):
            start = base + rng.randrange(-60, 660, 15) * minute
            end = start + rng.choice((15, 30, 60, 120)) * minute
            assert occupancy.most(start, end) == max_overlap(booked, start, end)
