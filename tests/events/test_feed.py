"""The event feed: one event per change, in the change's transaction, never skipped by a poller."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from opsadmin.events.models import Event
from tests.bookings.conftest import DAY, at


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write", "admin")


@pytest.fixture
def start(chain, session):
    """The feed's position once the chain is set up (its own location events are before it)."""
    session.rollback()
    return session.scalar(sa.select(sa.func.max(Event.id))) or 0


def feed(client, headers, **params):
    response = client.get("/api/v1/events", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_appointment_put_and_patch_are_events_carrying_the_appointment(
    client, headers, booking_body, start
):
    created = client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    assert created.status_code == 201
    client.patch("/api/v1/appointments/BK-1", json={"status": "cancelled"}, headers=headers)
    shown = client.get("/api/v1/appointments/BK-1", headers=headers).get_json()

    page = feed(client, headers, after=start)
    kinds = [event["type"] for event in page["events"]]
    assert kinds == ["appointment.created", "appointment.updated"]
    assert page["events"][0]["data"] == created.get_json()
    assert page["events"][1]["data"] == shown
    assert page["next_after"] == page["events"][-1]["id"]
    assert set(page["events"][0]) == {"id", "type", "occurred_at", "data"}


def test_identical_put_and_refused_put_record_no_event(client, headers, booking_body, start):
    client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    refused = client.put(
        "/api/v1/appointments/BK-2",
        json=booking_body(starts_at=at(DAY, "05:00").isoformat()),
        headers=headers,
    )
    assert refused.status_code == 409
    events = feed(client, headers, after=start)["events"]
    assert [e["type"] for e in events] == ["appointment.created"]


def test_closure_is_a_location_update(client, headers, start):
    response = client.post(
        "/api/v1/locations/GRN/closures",
        json={"starts_on": "2026-12-24", "ends_on": "2026-12-26", "reason": "Holiday"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    events = feed(client, headers, after=start, type="location.updated")["events"]
    assert [e["data"] for e in events] == [{"code": "GRN"}]


def test_referral_transition_is_a_status_change(client, headers, chain):
    referral = client.post(
        "/api/v1/referrals",
        json={
            "patient_ref": "P-1",
            "indication": "migraine",
            "referring_provider": {"name": "Dr A", "npi": "1234567893", "practice": "X"},
            "received_on": "2026-11-20",
            "consult_location": "GRN",
            "treatment_location": "GRN",
            "planned_sessions": 6,
        },
        headers=headers,
    ).get_json()
    moved = client.post(
        f"/api/v1/referrals/{referral['id']}/transitions",
        json={"to": "withdrawn", "reason": "patient withdrew"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.get_json()
    events = feed(client, headers, type="referral.status_changed")["events"]
    assert len(events) == 1
    data = events[0]["data"]
    assert (data["referral_id"], data["from"], data["to"]) == (
        referral["id"],
        "received",
        "withdrawn",
    )
    assert data["at"].endswith("Z")


def test_paging_by_limit_and_after(client, headers, booking_body, start):
    for n in range(3):
        hour = f"{9 + 2 * n:02d}:00"
        body = booking_body(
            starts_at=at(DAY, hour).isoformat(), ends_at=at(DAY, f"{10 + 2 * n:02d}:00").isoformat()
        )
        assert (
            client.put(f"/api/v1/appointments/BK-{n}", json=body, headers=headers).status_code
            == 201
        )
    first = feed(client, headers, after=start, limit=2)
    rest = feed(client, headers, after=first["next_after"], limit=2)
    assert len(first["events"]) == 2 and len(rest["events"]) == 1
    empty = feed(client, headers, after=rest["next_after"])
    assert empty == {"events": [], "next_after": rest["next_after"]}
    assert client.get("/api/v1/events?limit=501", headers=headers).status_code == 422


def test_rolled_back_change_leaves_no_event(session, chain, start):
    def events():
        return session.scalars(sa.select(Event).where(Event.id > start)).all()

    chain.grn.name = "Renamed"
    session.flush()
    session.rollback()
    assert events() == []
    chain.grn.name = "Renamed"
    session.commit()
    assert [(e.type, e.data) for e in events()] == [("location.updated", {"code": "GRN"})]


def test_an_event_recorded_by_a_feature_commits_or_rolls_back_with_it(session, start):
    from opsadmin.events.service import record_event

    record_event(
        session, "appointment.at_risk", {"external_id": "BK-1", "at_risk": ["room_closed"]}
    )
    session.rollback()
    record_event(session, "appointment.risk_cleared", {"external_id": "BK-1", "at_risk": []})
    session.commit()
    rows = session.scalars(sa.select(Event).where(Event.id > start)).all()
    assert [(e.type, e.data["external_id"]) for e in rows] == [("appointment.risk_cleared", "BK-1")]
