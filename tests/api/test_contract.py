"""The published contract (DESIGN §6), example by example: DESIGN's bodies sent literally, answers
compared field by field.

The chain is built so DESIGN's ids exist as written: room 3 (GRN, infusion, 2 chairs), staff 12
(a physician licensed in Indiana only, working at GRN, IND and CHI), staff 7 (the physician who
decides screenings) and referral 41. Ids are set explicitly on every row of those tables a test
creates, so no generated id can collide with them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.auth.idempotency import _fingerprint, claim
from opsadmin.auth.models import ApiKey
from opsadmin.referrals.models import Referral
from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
    StaffFactory,
    licensed_clinician,
)

EVERY_DAY = [(d, "08:00", "18:00") for d in range(7)]
UTC_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}

PUT_BK_1001 = {
    "location": "GRN",
    "room_id": 3,
    "staff_id": 12,
    "kind": "infusion",
    "indication": "migraine",
    "patient_ref": "P-20931",
    "referral_id": 41,
    "starts_at": "2026-12-01T09:00:00-05:00",
    "ends_at": "2026-12-01T11:00:00-05:00",
    "status": "booked",
}
POST_REFERRAL = {
    "patient_ref": "P-20931",
    "indication": "migraine",
    "referring_provider": {"name": "Dr Neuro Logist", "npi": "1234567893", "practice": "Putnam"},
    "received_on": "2026-11-20",
    "consult_location": "GRN",
    "treatment_location": "IND",
    "planned_sessions": 6,
}
TRANSITION_41 = {
    "to": "approved",
    "reason": "Screened at consult; benefits outweigh the risk.",
    "screening": {"flags": ["pregnancy"], "decided_by": 7, "override": "Obstetric consult agrees."},
}


@pytest.fixture
def clinic(session):
    """GRN and IND (Indiana), CHI (Illinois); DESIGN's ids 3, 12, 7 and 41 (approved)."""
    ensure_default_rules(session)
    indiana = RegionFactory(code="IN", name="Indiana")
    grn = LocationFactory(code="GRN", region=indiana, hours=EVERY_DAY)
    ind = LocationFactory(code="IND", region=indiana, city="Indianapolis", hours=EVERY_DAY)
    chi = LocationFactory(
        code="CHI",
        region=RegionFactory(code="IL", name="Illinois"),
        city="Chicago",
        state="IL",
        timezone="America/Chicago",
        hours=EVERY_DAY,
    )
    RoomFactory(id=3, location=grn, name="Infusion A", kind="infusion", capacity=2)
    RoomFactory(id=4, location=grn, name="Consult", kind="consult", capacity=1)
    staff = licensed_clinician([grn, ind, chi], id=12, name="Dr. Avery Quinn")
    decider = StaffFactory(id=7, name="Dr. Morgan Hale", locations=[grn])
    CredentialFactory(staff=decider, kind="state_license", state="IN")
    ReferralFactory(id=41, consult_location=grn, status="approved")
    session.commit()
    return {"grn": grn, "ind": ind, "chi": chi, "staff": staff}


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write", "admin", name="booking-system")


def assert_utc(value: str) -> None:
    assert UTC_INSTANT.match(value), value


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_FIELDS <= set(body) <= PROBLEM_FIELDS | {"errors"}
    assert (body["status"], body["code"]) == (status, code)
    assert all(isinstance(body[name], str) for name in ("type", "title", "detail", "code"))
    return body


def audit_count(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count(AuditEvent.id)))


# --- PUT /api/v1/appointments/BK-1001 ------------------------------------------------------


def test_put_bk_1001_creates_and_answers_the_same_fields_plus_external_id_and_stamps(
    client, clinic, headers
):
    response = client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # DESIGN: "the same fields plus external_id, created_at, updated_at" (and the row's id),
    # and since §11.2 every appointment's at_risk.
    assert set(body) == set(PUT_BK_1001) | {
        "external_id",
        "created_at",
        "updated_at",
        "id",
        "at_risk",
    }
    assert body["at_risk"] == []
    sent = {k: v for k, v in PUT_BK_1001.items() if k not in ("starts_at", "ends_at")}
    assert {k: body[k] for k in sent} == sent
    assert body["external_id"] == "BK-1001"
    assert isinstance(body["id"], int)
    assert (body["starts_at"], body["ends_at"]) == ("2026-12-01T14:00:00Z", "2026-12-01T16:00:00Z")
    assert_utc(body["created_at"])
    assert_utc(body["updated_at"])


def test_put_bk_1001_twice_answers_200_and_changes_nothing(client, clinic, headers, session):
    first = client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)
    events = audit_count(session)

    again = client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()  # updated_at included: unchanged
    assert audit_count(session) == events


def test_put_reschedule_answers_200(client, clinic, headers):
    client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)
    moved = PUT_BK_1001 | {
        "starts_at": "2026-12-01T12:00:00-05:00",
        "ends_at": "2026-12-01T14:00:00-05:00",
    }
    response = client.put("/api/v1/appointments/BK-1001", json=moved, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["starts_at"] == "2026-12-01T17:00:00Z"


def test_patch_get_and_list_appointments(client, clinic, headers):
    client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)

    patched = client.patch(
        "/api/v1/appointments/BK-1001", json={"status": "checked_in"}, headers=headers
    )
    one = client.get("/api/v1/appointments/BK-1001", headers=headers)
    listed = client.get(
        "/api/v1/appointments?location=GRN&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
        "&status=checked_in",
        headers=headers,
    )

    assert patched.status_code == 200 and patched.get_json()["status"] == "checked_in"
    assert one.get_json() == patched.get_json()
    assert listed.status_code == 200
    assert [a["external_id"] for a in listed.get_json()] == ["BK-1001"]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1


# --- GET /api/v1/locations/GRN/availability -------------------------------------------------


def test_availability_example_answers_design_fields(client, clinic, headers):
    response = client.get(
        "/api/v1/locations/GRN/availability?date=2026-12-01&kind=infusion&duration=120",
        headers=headers,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"location", "date", "kind", "duration", "slots", "eligible_staff"}
    assert (body["location"], body["date"], body["kind"], body["duration"]) == (
        "GRN",
        "2026-12-01",
        "infusion",
        120,
    )
    first = body["slots"][0]
    assert set(first) == {"room_id", "starts_at", "ends_at", "free_chairs"}
    assert first == {
        "room_id": 3,
        "starts_at": "2026-12-01T13:00:00Z",  # 08:00 local, the opening
        "ends_at": "2026-12-01T15:00:00Z",
        "free_chairs": 2,
    }
    starts = [dt.datetime.fromisoformat(s["starts_at"]) for s in body["slots"]]
    assert {b - a for a, b in itertools.pairwise(starts)} == {dt.timedelta(minutes=15)}
    assert body["slots"][-1]["ends_at"] == "2026-12-01T23:00:00Z"  # ends by the 18:00 close
    assert body["eligible_staff"] == [{"id": 12, "name": "Dr. Avery Quinn", "role": "physician"}]


# --- GET /api/v1/staff/12/eligibility -------------------------------------------------------


def test_eligibility_example_names_the_missing_illinois_license(client, clinic, headers):
    response = client.get(
        "/api/v1/staff/12/eligibility?location=CHI&date=2026-12-01&kind=infusion", headers=headers
    )

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"eligible", "missing"}
    assert body["eligible"] is False
    assert {"kind": "state_license", "state": "IL", "reason": "missing"} in body["missing"]
    for item in body["missing"]:
        assert {"kind", "reason"} <= set(item) <= {"kind", "state", "reason"}
        assert item["reason"] in ("missing", "expired", "unverified")


def test_eligibility_of_an_eligible_clinician_has_nothing_missing(client, clinic, headers):
    response = client.get(
        "/api/v1/staff/12/eligibility?location=GRN&date=2026-12-01&kind=infusion", headers=headers
    )
    assert response.get_json() == {"eligible": True, "missing": []}


# --- POST /api/v1/referrals ------------------------------------------------------------------


def test_post_referral_example_answers_201_with_every_field_and_its_event(client, clinic, headers):
    response = client.post("/api/v1/referrals", json=POST_REFERRAL, headers=headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert response.headers["Location"].endswith(f"/api/v1/referrals/{body['id']}")
    assert set(POST_REFERRAL) | {"id", "status", "sessions_completed", "follow_up_due_on"} <= set(
        body
    )
    assert {k: body[k] for k in POST_REFERRAL} == POST_REFERRAL
    assert (body["status"], body["sessions_completed"], body["follow_up_due_on"]) == (
        "received",
        0,
        None,
    )
    [event] = body["events"]
    assert set(event) == {"from", "to", "actor", "at", "reason"}
    assert (event["from"], event["to"]) == (None, "received")
    assert event["actor"]["type"] == "api_key"
    assert_utc(event["at"])


def test_get_referral_carries_its_events_and_the_list_filters(client, clinic, headers):
    created = client.post("/api/v1/referrals", json=POST_REFERRAL, headers=headers).get_json()

    one = client.get(f"/api/v1/referrals/{created['id']}", headers=headers)
    listed = client.get("/api/v1/referrals?status=received&location=IND", headers=headers)

    assert one.status_code == 200 and one.get_json()["events"] == created["events"]
    assert [r["id"] for r in listed.get_json()] == [created["id"]]
    assert "X-Pagination" in listed.headers


# --- POST /api/v1/referrals/41/transitions ---------------------------------------------------


def test_transition_example_approves_with_a_written_override(client, clinic, headers, session):
    referral = session.get(Referral, 41)
    referral.status = "consulted"
    session.commit()

    response = client.post("/api/v1/referrals/41/transitions", json=TRANSITION_41, headers=headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["status"]) == (41, "approved")
    assert body["events"][-1]["to"] == "approved"
    assert body["events"][-1]["reason"] == TRANSITION_41["reason"]
    assert body["screenings"][-1]["flags"] == ["pregnancy"]
    assert body["screenings"][-1]["decided_by"] == 7


def test_transition_forbidden_by_the_state_machine_is_409_invalid_transition(
    client, clinic, headers
):
    # Referral 41 is already approved: approving again is no transition of the machine.
    response = client.post("/api/v1/referrals/41/transitions", json=TRANSITION_41, headers=headers)
    assert_problem(response, 409, "invalid_transition")


# --- GET /api/v1/utilisation -----------------------------------------------------------------


def test_utilisation_example_answers_design_fields(client, clinic, headers):
    client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)

    response = client.get("/api/v1/utilisation?week=2026-W49&location=GRN", headers=headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {
        "week",
        "available_minutes",
        "booked_minutes",
        "utilisation",
        "no_show_rate",
        "rooms",
    }
    assert body["week"] == "2026-W49"
    assert body["booked_minutes"] == 120
    assert body["available_minutes"] == 7 * 600 * 2  # room 3: 7 days × 10 h × 2 chairs
    assert 0.0 <= body["utilisation"] <= 1.0
    assert [set(room) for room in body["rooms"]] == [
        {"room_id", "available_minutes", "booked_minutes", "utilisation"}
    ]
    assert body["rooms"][0]["room_id"] == 3


def test_utilisation_of_a_region(client, clinic, headers):
    response = client.get("/api/v1/utilisation?week=2026-W49&region=IN", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["week"] == "2026-W49"


# --- Booking rule violations: 409 with DESIGN's codes -----------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"starts_at": "2026-12-01T06:00:00-05:00", "ends_at": "2026-12-01T08:00:00-05:00"},
         "outside_opening_hours"),
        ({"room_id": 4}, "room_kind_mismatch"),
        ({"location": "CHI", "room_id": 5,
          "starts_at": "2026-12-01T09:00:00-06:00", "ends_at": "2026-12-01T11:00:00-06:00"},
         "staff_not_eligible"),
    ],
)  # fmt: skip
def test_booking_rule_violation_is_409_problem_with_its_code(
    client, clinic, headers, session, change, code
):
    RoomFactory(id=5, location=clinic["chi"], kind="infusion")
    session.commit()
    body = PUT_BK_1001 | {"referral_id": None} | change
    response = client.put("/api/v1/appointments/BK-1001", json=body, headers=headers)
    assert_problem(response, 409, code)


def test_full_room_is_409_room_at_capacity(client, clinic, headers):
    for n in (1, 2):  # one patient per chair: a patient cannot be in two at once
        body = PUT_BK_1001 | {"patient_ref": f"P-{n}"}
        client.put(f"/api/v1/appointments/BK-{n}", json=body, headers=headers)
    response = client.put("/api/v1/appointments/BK-3", json=PUT_BK_1001, headers=headers)
    assert_problem(response, 409, "room_at_capacity")


def test_closed_room_is_409_room_closed(client, clinic, headers):
    closure = {"starts_at": "2026-12-01T13:00:00Z", "ends_at": "2026-12-01T18:00:00Z"}
    assert client.post("/api/v1/rooms/3/closures", json=closure, headers=headers).status_code == 201
    response = client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)
    assert_problem(response, 409, "room_closed")


def test_unapproved_referral_is_409_referral_not_approved(client, clinic, headers, session):
    ReferralFactory(id=42, consult_location=clinic["grn"], status="received")
    session.commit()
    body = PUT_BK_1001 | {"referral_id": 42}
    response = client.put("/api/v1/appointments/BK-1001", json=body, headers=headers)
    assert_problem(response, 409, "referral_not_approved")


def test_site_without_dea_is_409_site_not_licensed(client, clinic, headers, session):
    for registration in clinic["grn"].registrations:
        session.delete(registration)
    session.commit()
    response = client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)
    assert_problem(response, 409, "site_not_licensed")


def test_final_status_cannot_move_409_invalid_transition(client, clinic, headers):
    client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=headers)
    client.patch("/api/v1/appointments/BK-1001", json={"status": "cancelled"}, headers=headers)
    response = client.patch(
        "/api/v1/appointments/BK-1001", json={"status": "booked"}, headers=headers
    )
    assert_problem(response, 409, "invalid_transition")


# --- 401 / 403 / 404 / 415 / 422 ---------------------------------------------------------------


def test_no_key_is_401_and_a_bad_key_is_401(client, clinic):
    assert_problem(client.get("/api/v1/regions"), 401, "unauthorized")
    bad = {"Authorization": "Bearer not-a-key"}
    assert_problem(client.get("/api/v1/regions", headers=bad), 401, "unauthorized")


def test_a_revoked_key_is_401(client, clinic, headers, api_headers, session):
    from opsadmin.auth.service import revoke_api_key

    revoke_api_key(session, api_headers.last_key.id)
    session.commit()
    assert_problem(client.get("/api/v1/regions", headers=headers), 401, "unauthorized")


def test_missing_scope_is_403(client, clinic, api_headers):
    read_only = api_headers("read")
    response = client.put("/api/v1/appointments/BK-1001", json=PUT_BK_1001, headers=read_only)
    assert_problem(response, 403, "forbidden")


def test_unknown_resources_are_404(client, clinic, headers):
    for path in (
        "/api/v1/locations/NOPE",
        "/api/v1/staff/999",
        "/api/v1/appointments/BK-404",
        "/api/v1/referrals/999",
    ):
        assert_problem(client.get(path, headers=headers), 404, "not_found")


def test_a_body_that_is_not_json_is_415(client, clinic, headers):
    response = client.put(
        "/api/v1/appointments/BK-1001", data="location=GRN", headers=headers,
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"starts_at": "2026-12-01T09:00:00"}, "starts_at"),
        ({"ends_at": "2026-12-01T08:00:00-05:00"}, "ends_at"),
        ({"colour": "blue"}, "colour"),
        ({"kind": "massage"}, "kind"),
    ],
)
def test_invalid_booking_input_is_422_per_field(client, clinic, headers, change, field):
    body = PUT_BK_1001 | change
    response = client.put("/api/v1/appointments/BK-1001", json=body, headers=headers)
    problem = assert_problem(response, 422, "invalid_input")
    assert field in problem["errors"]


def test_a_bad_npi_is_422_under_its_field(client, clinic, headers):
    body = POST_REFERRAL | {
        "referring_provider": POST_REFERRAL["referring_provider"] | {"npi": "1234567890"}
    }
    response = client.post("/api/v1/referrals", json=body, headers=headers)
    problem = assert_problem(response, 422, "invalid_input")
    assert "referring_provider" in problem["errors"]


# --- Pagination -----------------------------------------------------------------------------


def test_lists_page_25_by_default_at_most_100_with_x_pagination(client, clinic, headers, session):
    for n in range(30):
        RegionFactory(code=f"Z{n:02d}")
    session.commit()

    first = client.get("/api/v1/regions", headers=headers)
    second = client.get("/api/v1/regions?page=2&page_size=25", headers=headers)
    too_big = client.get("/api/v1/regions?page_size=101", headers=headers)

    assert len(first.get_json()) == 25
    meta = json.loads(first.headers["X-Pagination"])
    assert (meta["total"], meta["page"], meta["total_pages"]) == (32, 1, 2)
    assert len(second.get_json()) == 7
    assert_problem(too_big, 422, "invalid_input")


# --- Master data: POST creates answer 201 with the resource and its id -----------------------


def test_master_data_posts_answer_201_with_the_created_resource(client, clinic, headers):
    creates = [
        ("/api/v1/regions", {"code": "OH", "name": "Ohio", "lead_emails": ["lead@example.org"]}),
        ("/api/v1/locations", {
            "code": "CLB", "name": "Columbus", "region": "OH", "timezone": "America/New_York",
            "address": {"line1": "1 High St", "city": "Columbus", "state": "OH",
                        "postal_code": "43215"},
            "phone": "+1 614 555 0100",
            "opening_hours": [{"weekday": 0, "opens": "08:00", "closes": "18:00"}],
        }),
        ("/api/v1/locations/CLB/closures",
         {"starts_on": "2026-12-24", "ends_on": "2026-12-26", "reason": "Holiday"}),
        ("/api/v1/locations/CLB/registrations",
         {"kind": "dea_registration", "number": "FC1234563", "state": "OH",
          "expires_on": "2028-01-31"}),
        ("/api/v1/rooms", {"location": "CLB", "name": "Infusion", "kind": "infusion",
                           "capacity": 3}),
        ("/api/v1/staff", {"name": "Dr. New", "email": "new@clinic.example.org",
                           "role": "physician", "locations": ["CLB"]}),
    ]  # fmt: skip
    for path, body in creates:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 201, (path, response.get_json())
        created = response.get_json()
        assert isinstance(created["id"], int), path
        shown = {k: v for k, v in body.items() if not isinstance(v, dict | list)}
        assert {k: created[k] for k in shown} == shown, path
    staff_id = created["id"]
    credential = {
        "kind": "state_license", "number": "OH-123", "state": "OH",
        "issued_on": "2025-01-01", "expires_on": "2027-12-31", "verified_on": "2025-01-05",
    }  # fmt: skip
    response = client.post(
        f"/api/v1/staff/{staff_id}/credentials", json=credential, headers=headers
    )
    assert response.status_code == 201
    assert {k: response.get_json()[k] for k in credential} == credential
    assert isinstance(response.get_json()["id"], int)


def test_master_data_patches_and_reads(client, clinic, headers):
    assert client.patch("/api/v1/locations/GRN", json={"phone": "+1 765 555 0199"},
                        headers=headers).get_json()["phone"] == "+1 765 555 0199"  # fmt: skip
    assert client.patch("/api/v1/rooms/3", json={"capacity": 3},
                        headers=headers).get_json()["capacity"] == 3  # fmt: skip
    assert client.patch("/api/v1/staff/7", json={"active": False},
                        headers=headers).get_json()["active"] is False  # fmt: skip
    assert [loc["code"] for loc in client.get("/api/v1/locations?region=IN&active=true",
                                              headers=headers).get_json()] == ["GRN", "IND"]  # fmt: skip
    assert client.get("/api/v1/locations/GRN", headers=headers).get_json()["code"] == "GRN"
    rooms = client.get("/api/v1/locations/GRN/rooms", headers=headers)
    assert [room["id"] for room in rooms.get_json()] == [4, 3]  # by name: Consult, Infusion A
    assert json.loads(rooms.headers["X-Pagination"])["total"] == 2  # a list: it pages
    staff = client.get(
        "/api/v1/staff?location=CHI&role=physician&eligible_on=2026-12-01&kind=consult",
        headers=headers,
    ).get_json()
    assert staff == []  # staff 12 holds no Illinois license
    assert client.get("/api/v1/staff/12", headers=headers).get_json()["id"] == 12


# --- Idempotency-Key, healthz, OpenAPI, docs ---------------------------------------------------


def test_idempotency_key_replays_refuses_another_body_and_a_running_duplicate(
    app, client, clinic, headers, session
):
    keyed = headers | {"Idempotency-Key": "ref-0001"}
    first = client.post("/api/v1/referrals", json=POST_REFERRAL, headers=keyed)
    replay = client.post("/api/v1/referrals", json=POST_REFERRAL, headers=keyed)
    other = client.post(
        "/api/v1/referrals", json=POST_REFERRAL | {"patient_ref": "P-1"}, headers=keyed
    )

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == first.get_data()
    assert replay.headers["Location"] == first.headers["Location"]
    assert_problem(other, 422, "idempotency_key_reused")

    running = headers | {"Idempotency-Key": "ref-0002"}
    with app.test_request_context("/api/v1/referrals", method="POST", json=POST_REFERRAL):
        claim(session(), _key_id(session), "ref-0002", *_fingerprint())
    duplicate = client.post("/api/v1/referrals", json=POST_REFERRAL, headers=running)
    assert_problem(duplicate, 409, "duplicate")


def _key_id(session) -> int:
    return session.scalar(sa.select(ApiKey.id).where(ApiKey.name == "booking-system"))


def test_healthz_needs_no_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_openapi_document_lists_every_design_path_and_method(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    design = {
        ("get", "/api/v1/regions"), ("post", "/api/v1/regions"),
        ("get", "/api/v1/locations"), ("post", "/api/v1/locations"),
        ("get", "/api/v1/locations/{code}"), ("patch", "/api/v1/locations/{code}"),
        ("get", "/api/v1/locations/{code}/rooms"),
        ("get", "/api/v1/locations/{code}/availability"),
        ("post", "/api/v1/locations/{code}/closures"),
        ("post", "/api/v1/locations/{code}/registrations"),
        ("post", "/api/v1/rooms"), ("patch", "/api/v1/rooms/{room_id}"),
        ("post", "/api/v1/rooms/{room_id}/closures"),
        ("get", "/api/v1/staff"), ("post", "/api/v1/staff"),
        ("get", "/api/v1/staff/{staff_id}"), ("patch", "/api/v1/staff/{staff_id}"),
        ("get", "/api/v1/staff/{staff_id}/eligibility"),
        ("post", "/api/v1/staff/{staff_id}/credentials"),
        ("put", "/api/v1/appointments/{external_id}"),
        ("patch", "/api/v1/appointments/{external_id}"),
        ("get", "/api/v1/appointments/{external_id}"), ("get", "/api/v1/appointments"),
        ("post", "/api/v1/referrals"), ("get", "/api/v1/referrals"),
        ("get", "/api/v1/referrals/{referral_id}"),
        ("post", "/api/v1/referrals/{referral_id}/transitions"),
        ("get", "/api/v1/utilisation"), ("get", "/healthz"),
    }  # fmt: skip
    documented = {(m, p) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    assert design <= documented, design - documented


def test_docs_page_is_served_without_any_external_request(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page
