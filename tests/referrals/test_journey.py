"""Acceptance: one referral's whole journey through the API, every event's actor and order checked.

Consult in Greencastle (GRN), infusions in Indianapolis (IND); the booking system pushes the
appointments with its own key, the referral coordinator's integration creates and approves with
another: automatic moves are recorded with the key whose appointment call caused them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opsadmin.bookings import api as bookings_api
from opsadmin.bookings.service import BookingRequest, book_appointment
from tests.factories import ReferralFactory
from tests.referrals.conftest import referral_body

INDIANA = ZoneInfo("America/Indiana/Indianapolis")
TODAY = dt.date.today()


def local(day: dt.date, hhmm: str) -> str:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=INDIANA).isoformat()


def appointment_body(chain, referral_id, kind, day) -> dict:
    consult = kind == "consult"
    return {
        "location": "GRN" if consult else "IND",
        "room_id": (chain.consult_room if consult else chain.infusion_room).id,
        "staff_id": chain.clinician.id,
        "kind": kind,
        "indication": "migraine",
        "patient_ref": "P-20931",
        "referral_id": referral_id,
        "starts_at": local(day, "10:00"),
        "ends_at": local(day, "11:00" if consult else "12:00"),
        "status": "booked",
    }


@pytest.mark.skipif(not bookings_api.blueprints, reason="the booking API (issue 3) has not landed")
def test_referral_walks_from_received_to_completed(client, chain, api_headers):
    coordinator = api_headers("read", "write", name="referrals")
    coordinator_id = api_headers.last_key.id
    booking = api_headers("read", "write", name="booking")
    booking_id = api_headers.last_key.id

    def put(external_id, body):
        response = client.put(f"/api/v1/appointments/{external_id}", json=body, headers=booking)
        assert response.status_code == 201, response.get_json()

    def complete(external_id):
        response = client.patch(
            f"/api/v1/appointments/{external_id}", json={"status": "completed"}, headers=booking
        )
        assert response.status_code == 200, response.get_json()

    def status() -> str:
        return client.get(f"/api/v1/referrals/{rid}", headers=coordinator).get_json()["status"]

    created = client.post("/api/v1/referrals", json=referral_body(), headers=coordinator)
    assert created.status_code == 201
    rid = created.get_json()["id"]

    put("C-1", appointment_body(chain, rid, "consult", TODAY - dt.timedelta(days=20)))
    assert status() == "consult_scheduled"
    complete("C-1")
    assert status() == "consulted"

    screening = {"flags": [], "decided_by": chain.physician.id}
    approved = client.post(
        f"/api/v1/referrals/{rid}/transitions",
        json={"to": "approved", "reason": "good candidate", "screening": screening},
        headers=coordinator,
    )
    assert approved.status_code == 200, approved.get_json()

    infusion_days = [TODAY - dt.timedelta(days=14 - i) for i in range(6)]
    for number, day in enumerate(infusion_days, start=1):
        put(f"I-{number}", appointment_body(chain, rid, "infusion", day))
    assert status() == "treatment_scheduled"
    for number in range(1, 7):
        complete(f"I-{number}")
        assert status() == ("completed" if number == 6 else "in_treatment")

    final = client.get(f"/api/v1/referrals/{rid}", headers=coordinator).get_json()
    assert final["sessions_completed"] == 6
    assert final["follow_up_due_on"] == (infusion_days[-1] + dt.timedelta(days=14)).isoformat()
    journey = [(e["from"], e["to"], e["actor"]["type"], e["actor"]["id"]) for e in final["events"]]
    assert journey == [
        (None, "received", "api_key", coordinator_id),
        ("received", "consult_scheduled", "api_key", booking_id),
        ("consult_scheduled", "consulted", "api_key", booking_id),
        ("consulted", "approved", "api_key", coordinator_id),
        ("approved", "treatment_scheduled", "api_key", booking_id),
        ("treatment_scheduled", "in_treatment", "api_key", booking_id),
        ("in_treatment", "completed", "api_key", booking_id),
    ]
    automatic = [e["reason"] for e in final["events"] if e["actor"]["id"] == booking_id]
    assert all(reason.startswith("automatic: ") for reason in automatic)
    assert final["events"][3]["reason"] == "good candidate"
    ats = [e["at"] for e in final["events"]]
    assert ats == sorted(ats)


@pytest.mark.skipif(not bookings_api.blueprints, reason="the booking API (issue 3) has not landed")
def test_infusion_for_a_referral_not_approved_is_409_over_the_api(client, chain, api_headers):
    headers = api_headers("read", "write")
    rid = client.post("/api/v1/referrals", json=referral_body(), headers=headers).get_json()["id"]
    body = appointment_body(chain, rid, "infusion", TODAY + dt.timedelta(days=3))
    response = client.put("/api/v1/appointments/I-1", json=body, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "referral_not_approved"
    referral = client.get(f"/api/v1/referrals/{rid}", headers=headers).get_json()
    assert referral["status"] == "received" and len(referral["events"]) == 1


def test_booking_service_refuses_an_infusion_for_an_unapproved_referral(session, chain):
    from opsadmin.errors import Conflict

    referral = ReferralFactory(
        consult_location=chain.grn, treatment_location=chain.ind, status="consulted"
    )
    body = appointment_body(chain, referral.id, "infusion", TODAY + dt.timedelta(days=3))
    body["starts_at"] = dt.datetime.fromisoformat(body["starts_at"])
    body["ends_at"] = dt.datetime.fromisoformat(body["ends_at"])
    session.commit()  # the booking opens its own (BEGIN IMMEDIATE) transaction
    with pytest.raises(Conflict) as refused:
        book_appointment(session, BookingRequest(external_id="I-1", **body))
    assert refused.value.code == "referral_not_approved"
