"""Bookings at risk in the event feed: a booking whose stored verdict gains reasons is an
``appointment.at_risk`` event, one whose reasons go back to none an ``appointment.risk_cleared``,
both carrying the appointment as GET returns it; webhook endpoints may subscribe to them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from opsadmin.events.models import Event
from opsadmin.locations.models import LocationClosure
from tests.bookings.conftest import DAY, at

RISK_TYPES = ["appointment.at_risk", "appointment.risk_cleared"]


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "OPSADMIN_WEBHOOK_ALLOW_HTTP": True,
        "OPSADMIN_WEBHOOK_ALLOW_PRIVATE": True,
    }


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write", "admin")


@pytest.fixture
def start(chain, session):
    session.rollback()
    return session.scalar(sa.select(sa.func.max(Event.id))) or 0


def risk_events(client, headers, after):
    response = client.get("/api/v1/events", query_string={"after": after}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return [e for e in response.get_json()["events"] if e["type"] in RISK_TYPES]


def book(client, headers, booking_body, external_id, hours):
    body = booking_body(
        patient_ref=f"P-{external_id}",
        starts_at=at(DAY, hours[0]).isoformat(),
        ends_at=at(DAY, hours[1]).isoformat(),
    )
    response = client.put(f"/api/v1/appointments/{external_id}", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()


def close_the_day(client, headers):
    closure = {"starts_on": DAY.isoformat(), "ends_on": DAY.isoformat(), "reason": "Burst pipe"}
    response = client.post("/api/v1/locations/GRN/closures", json=closure, headers=headers)
    assert response.status_code == 201 and response.json["bookings_at_risk"] == 2


def test_closure_over_a_booked_day_is_at_risk_events_and_its_removal_risk_cleared(
    client, session, headers, booking_body, start
):
    book(client, headers, booking_body, "BK-1", ("09:00", "11:00"))
    book(client, headers, booking_body, "BK-2", ("13:00", "15:00"))
    assert risk_events(client, headers, start) == []  # booked fine: no verdict changed

    close_the_day(client, headers)
    flagged = risk_events(client, headers, start)
    assert [(e["type"], e["data"]["external_id"]) for e in flagged] == [
        ("appointment.at_risk", "BK-1"),
        ("appointment.at_risk", "BK-2"),
    ]
    for event in flagged:
        shown = client.get(f"/api/v1/appointments/{event['data']['external_id']}", headers=headers)
        assert event["data"] == shown.get_json()
        assert event["data"]["at_risk"] == ["location_closed"]

    cursor = flagged[-1]["id"]
    session.rollback()
    session.delete(session.scalars(sa.select(LocationClosure)).one())
    session.commit()
    cleared = risk_events(client, headers, cursor)
    assert [(e["type"], e["data"]["external_id"]) for e in cleared] == [
        ("appointment.risk_cleared", "BK-1"),
        ("appointment.risk_cleared", "BK-2"),
    ]
    assert all(e["data"]["at_risk"] == [] for e in cleared)
    assert cleared[0]["data"] == client.get("/api/v1/appointments/BK-1", headers=headers).json


def test_changed_reasons_are_a_new_at_risk_event_and_unchanged_ones_none(
    client, session, headers, booking_body, chain, start
):
    book(client, headers, booking_body, "BK-1", ("09:00", "11:00"))
    for reason in ("Burst pipe", "Power cut"):  # the second closure changes no reason
        closure = {"starts_on": DAY.isoformat(), "ends_on": DAY.isoformat(), "reason": reason}
        client.post("/api/v1/locations/GRN/closures", json=closure, headers=headers)
    response = client.patch(
        f"/api/v1/rooms/{chain.infusion.id}", json={"active": False}, headers=headers
    )
    assert response.status_code == 200 and response.json["bookings_at_risk"] == 1
    events = risk_events(client, headers, start)
    assert [(e["type"], e["data"]["at_risk"]) for e in events] == [
        ("appointment.at_risk", ["location_closed"]),
        ("appointment.at_risk", ["location_closed", "room_inactive"]),
    ]


def test_webhook_subscribed_to_risk_types_receives_them_signed(
    client, session, headers, booking_body, receiver, app, monkeypatch
):
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # deliver in this process
    response = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": RISK_TYPES}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    assert response.json["events"] == RISK_TYPES
    secret = response.json["secret"]
    book(client, headers, booking_body, "BK-1", ("09:00", "11:00"))
    book(client, headers, booking_body, "BK-2", ("13:00", "15:00"))
    close_the_day(client, headers)
    session.rollback()
    session.delete(session.scalars(sa.select(LocationClosure)).one())
    session.commit()

    received = [Webhook(secret).verify(hook.body, hook.headers) for hook in receiver.received]
    assert [(p["type"], p["data"]["external_id"]) for p in received] == [
        ("appointment.at_risk", "BK-1"),
        ("appointment.at_risk", "BK-2"),
        ("appointment.risk_cleared", "BK-1"),
        ("appointment.risk_cleared", "BK-2"),
    ]
