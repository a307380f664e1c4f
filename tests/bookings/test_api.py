"""The booking endpoints through HTTP: every 409 code, 422s, no-op PUTs, DST, eligibility, scopes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.bookings.models import Appointment
from opsadmin.locations.models import LocationClosure
from opsadmin.rooms.models import RoomClosure
from opsadmin.staff.models import Credential
from tests.bookings.conftest import CHICAGO, DAY, PAST_DAY, at
from tests.factories import ReferralFactory

PROBLEM = "application/problem+json"


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write")


@pytest.fixture
def body(chain):
    """A valid infusion at GRN, 09:00–11:00 local on DAY (offsets as the booking system sends)."""

    def make(**fields):
        values = {
            "location": "GRN",
            "room_id": chain.infusion.id,
            "staff_id": chain.dr_in.id,
            "kind": "infusion",
            "indication": "migraine",
            "patient_ref": "P-20931",
            "starts_at": at(DAY, "09:00").isoformat(),
            "ends_at": at(DAY, "11:00").isoformat(),
            "status": "booked",
        } | fields
        return {k: v for k, v in values.items() if v is not ...}

    return make


@pytest.fixture
def put(client, headers, body):
    counter = iter(range(1, 10_000))
    patients: dict[str, str] = {}

    def send(external_id=None, **fields):
        external_id = external_id or f"BK-{next(counter)}"
        # One patient per booking unless told: a patient cannot be in two chairs at once.
        fields.setdefault("patient_ref", patients.setdefault(external_id, f"P-{len(patients)}"))
        return client.put(
            f"/api/v1/appointments/{external_id}", json=body(**fields), headers=headers
        )

    return send


def count(session, model) -> int:
    session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def assert_problem(response, status, code):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == code
    return response.get_json()


PAST = {
    "starts_at": at(PAST_DAY, "09:00").isoformat(),
    "ends_at": at(PAST_DAY, "11:00").isoformat(),
}

# -- created, updated, read ---------------------------------------------------------------------


def test_put_creates_with_201_and_answers_utc(put, chain):
    response = put("BK-1001")
    assert response.status_code == 201
    data = response.get_json()
    assert data["external_id"] == "BK-1001"
    assert data["location"] == "GRN"
    assert data["room_id"] == chain.infusion.id
    assert data["starts_at"] == "2026-12-01T14:00:00Z"
    assert data["ends_at"] == "2026-12-01T16:00:00Z"
    assert data["status"] == "booked"
    assert data["id"] and data["created_at"].endswith("Z") and data["updated_at"].endswith("Z")


def test_put_again_reschedules_with_200(put):
    put("BK-1")
    response = put(
        "BK-1", starts_at=at(DAY, "12:00").isoformat(), ends_at=at(DAY, "13:00").isoformat()
    )
    assert response.status_code == 200
    assert response.get_json()["starts_at"] == "2026-12-01T17:00:00Z"


def test_identical_put_answers_200_and_changes_nothing(put, session):
    first = put("BK-1").get_json()
    events = count(session, AuditEvent)
    again = put("BK-1")
    assert again.status_code == 200
    assert again.get_json() == first
    assert count(session, AuditEvent) == events
    assert count(session, Appointment) == 1


def test_get_one_appointment(client, put, headers):
    put("BK-1")
    response = client.get("/api/v1/appointments/BK-1", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["external_id"] == "BK-1"


def test_unknown_appointment_is_404(client, headers, chain):
    assert_problem(client.get("/api/v1/appointments/BK-NOPE", headers=headers), 404, "not_found")


def test_list_filters_by_location_window_and_status(client, put, headers, chain):
    put("BK-1")
    put("BK-2", starts_at=at(DAY, "14:00").isoformat(), ends_at=at(DAY, "15:00").isoformat())
    put(
        "BK-3",
        starts_at=at(DAY, "14:00").isoformat(),
        ends_at=at(DAY, "15:00").isoformat(),
        status="cancelled",
    )
    query = {
        "location": "GRN",
        "from": at(DAY, "12:00").isoformat(),
        "to": at(DAY, "18:00").isoformat(),
        "status": "booked",
    }
    response = client.get("/api/v1/appointments", query_string=query, headers=headers)
    assert response.status_code == 200
    assert [a["external_id"] for a in response.get_json()] == ["BK-2"]
    assert "X-Pagination" in response.headers


def test_list_paginates(client, put, headers):
    for n in range(3):
        put(f"BK-{n}")
    response = client.get("/api/v1/appointments", query_string={"page_size": 2}, headers=headers)
    assert [a["external_id"] for a in response.get_json()] == ["BK-0", "BK-1"]


def test_patch_moves_the_status(client, put, headers):
    put("BK-1")
    response = client.patch(
        "/api/v1/appointments/BK-1", json={"status": "checked_in"}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "checked_in"


# -- every 409 ----------------------------------------------------------------------------------


def test_room_at_capacity(put):
    for _ in range(3):
        assert put().status_code == 201
    assert_problem(put(), 409, "room_at_capacity")


def test_outside_opening_hours(put):
    assert_problem(put(starts_at=at(DAY, "07:30").isoformat()), 409, "outside_opening_hours")


def test_room_closed_for_maintenance(put, session, chain):
    session.add(
        RoomClosure(room=chain.infusion, starts_at=at(DAY, "08:00"), ends_at=at(DAY, "12:00"))
    )
    session.commit()
    assert_problem(put(), 409, "room_closed")


def test_location_closed_on_a_location_holiday(put, session, chain):
    session.add(LocationClosure(location=chain.grn, starts_on=DAY, ends_on=DAY))
    session.commit()
    assert_problem(put(), 409, "location_closed")


def test_room_kind_mismatch(put, chain):
    assert_problem(put(room_id=chain.consult.id), 409, "room_kind_mismatch")


def test_staff_not_eligible_in_illinois(put, chain):
    problem = assert_problem(
        put(
            location="CHI",
            room_id=chain.chi_infusion.id,
            starts_at=at(DAY, "09:00", CHICAGO).isoformat(),
            ends_at=at(DAY, "11:00", CHICAGO).isoformat(),
        ),
        409,
        "staff_not_eligible",
    )
    assert {"kind": "state_license", "state": "IL", "reason": "missing"} in problem["errors"][
        "missing"
    ]


def test_site_not_licensed(put, session, chain):
    chain.grn.registrations[0].expires_on = DAY - dt.timedelta(days=1)
    session.commit()
    assert_problem(put(), 409, "site_not_licensed")


def test_referral_not_approved(put, session, chain):
    referral = ReferralFactory(consult_location=chain.grn, status="received")
    session.commit()
    assert_problem(put(referral_id=referral.id), 409, "referral_not_approved")


def test_invalid_transition(client, put, headers):
    put("BK-1", status="completed", **PAST)
    response = client.patch("/api/v1/appointments/BK-1", json={"status": "booked"}, headers=headers)
    assert_problem(response, 409, "invalid_transition")


def test_duplicate_external_id_race_is_a_409(put, session, monkeypatch):
    """A concurrent request inserting the same external_id between our read and insert."""
    from opsadmin.bookings import service

    put("BK-1")
    monkeypatch.setattr(
        service, "_find", lambda session, external_id, lock=False: None if lock else object()
    )
    assert_problem(put("BK-1", patient_ref="P-2"), 409, "duplicate")


# -- 422 and friends ----------------------------------------------------------------------------


def test_naive_datetime_is_422(put):
    problem = assert_problem(put(starts_at="2026-12-01T09:00:00"), 422, "invalid_input")
    assert "starts_at" in problem["errors"]


def test_seconds_are_422(put):
    problem = assert_problem(put(starts_at=at(DAY, "09:00:30").isoformat()), 422, "invalid_input")
    assert "starts_at" in problem["errors"]


def test_end_before_start_is_422(put):
    problem = assert_problem(put(ends_at=at(DAY, "08:00").isoformat()), 422, "invalid_input")
    assert "ends_at" in problem["errors"]


def test_unknown_field_is_422(put):
    problem = assert_problem(put(surgeon="Dr No"), 422, "invalid_input")
    assert "surgeon" in problem["errors"]


@pytest.mark.parametrize("field", ["kind", "indication", "status"])
def test_bad_enum_is_422(put, field):
    problem = assert_problem(put(**{field: "nonsense"}), 422, "invalid_input")
    assert field in problem["errors"]


def test_missing_field_is_422(put):
    problem = assert_problem(put(patient_ref=...), 422, "invalid_input")
    assert "patient_ref" in problem["errors"]


def test_unknown_room_is_422(put):
    problem = assert_problem(put(room_id=999_999), 422, "invalid_input")
    assert "room_id" in problem["errors"]


def test_patch_with_unknown_field_is_422(client, put, headers):
    put("BK-1")
    response = client.patch(
        "/api/v1/appointments/BK-1", json={"status": "cancelled", "room_id": 3}, headers=headers
    )
    assert_problem(response, 422, "invalid_input")


def test_non_json_body_is_415(client, headers, chain):
    response = client.put("/api/v1/appointments/BK-1", data="status=booked", headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


# -- keys and scopes ----------------------------------------------------------------------------


def test_put_without_a_key_is_401(client, body):
    assert_problem(client.put("/api/v1/appointments/BK-1", json=body()), 401, "unauthorized")


def test_put_with_a_read_only_key_is_403(client, api_headers, body):
    response = client.put("/api/v1/appointments/BK-1", json=body(), headers=api_headers("read"))
    assert_problem(response, 403, "forbidden")


def test_get_with_a_write_only_key_is_403(client, api_headers, chain):
    response = client.get("/api/v1/appointments", headers=api_headers("write"))
    assert_problem(response, 403, "forbidden")


# -- reschedule and cancel ----------------------------------------------------------------------


def test_reschedule_rechecks_the_rules(put):
    put("BK-1")
    assert_problem(
        put("BK-1", starts_at=at(DAY, "07:00").isoformat()), 409, "outside_opening_hours"
    )


def test_cancel_frees_the_chair(client, put, headers):
    for n in range(3):
        put(f"BK-c{n}")
    assert_problem(put(), 409, "room_at_capacity")
    client.patch("/api/v1/appointments/BK-c0", json={"status": "cancelled"}, headers=headers)
    assert put().status_code == 201


# -- DST ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [dt.date(2026, 3, 8), dt.date(2026, 11, 1)])
def test_dst_day_accepts_opening_time_and_refuses_half_an_hour_before(client, put, headers, day):
    early = put(starts_at=at(day, "07:30").isoformat(), ends_at=at(day, "08:30").isoformat())
    assert_problem(early, 409, "outside_opening_hours")
    on_time = put(starts_at=at(day, "08:00").isoformat(), ends_at=at(day, "09:00").isoformat())
    assert on_time.status_code == 201
    availability = client.get(
        "/api/v1/locations/GRN/availability",
        query_string={"date": day.isoformat(), "kind": "infusion", "duration": 60},
        headers=headers,
    ).get_json()
    first = dt.datetime.fromisoformat(availability["slots"][0]["starts_at"])
    assert first == at(day, "08:00")


# -- availability and eligibility ---------------------------------------------------------------


def test_availability_answers_the_contract(client, put, headers, chain):
    put()
    response = client.get(
        "/api/v1/locations/GRN/availability",
        query_string={"date": "2026-12-01", "kind": "infusion", "duration": 120},
        headers=headers,
    )
    assert response.status_code == 200
    data = response.get_json()
    assert (data["location"], data["date"], data["kind"], data["duration"]) == (
        "GRN",
        "2026-12-01",
        "infusion",
        120,
    )
    assert data["slots"][0] == {
        "room_id": chain.infusion.id,
        "starts_at": "2026-12-01T13:00:00Z",
        "ends_at": "2026-12-01T15:00:00Z",
        "free_chairs": 2,
    }
    assert data["eligible_staff"] == [
        {"id": chain.dr_in.id, "name": chain.dr_in.name, "role": "physician"}
    ]


def test_availability_of_an_unknown_location_is_404(client, headers, chain):
    response = client.get(
        "/api/v1/locations/NOPE/availability",
        query_string={"date": "2026-12-01", "kind": "infusion", "duration": 60},
        headers=headers,
    )
    assert_problem(response, 404, "not_found")


def test_availability_needs_date_kind_and_duration(client, headers, chain):
    response = client.get("/api/v1/locations/GRN/availability", headers=headers)
    problem = assert_problem(response, 422, "invalid_input")
    assert {"date", "kind", "duration"} <= set(problem["errors"])


def eligibility(client, headers, staff_id, location, kind="infusion"):
    return client.get(
        f"/api/v1/staff/{staff_id}/eligibility",
        query_string={"location": location, "date": "2026-12-01", "kind": kind},
        headers=headers,
    )


def test_indiana_clinician_eligible_at_grn_not_at_chi(client, headers, chain):
    assert eligibility(client, headers, chain.dr_in.id, "GRN").get_json() == {
        "eligible": True,
        "missing": [],
    }
    chi = eligibility(client, headers, chain.dr_in.id, "CHI").get_json()
    assert chi["eligible"] is False
    assert {"kind": "state_license", "state": "IL", "reason": "missing"} in chi["missing"]


def test_expired_acls_makes_infusion_ineligible_but_consult_fine(client, headers, session, chain):
    session.execute(
        sa.update(Credential)
        .where(Credential.staff_id == chain.dr_in.id, Credential.kind == "acls")
        .values(issued_on=dt.date(2024, 1, 1), expires_on=DAY - dt.timedelta(days=1))
    )
    session.commit()
    infusion = eligibility(client, headers, chain.dr_in.id, "GRN").get_json()
    assert infusion == {"eligible": False, "missing": [{"kind": "acls", "reason": "expired"}]}
    consult = eligibility(client, headers, chain.dr_in.id, "GRN", kind="consult").get_json()
    assert consult["eligible"] is True


def test_eligibility_of_unknown_staff_is_404(client, headers, chain):
    assert_problem(eligibility(client, headers, 999_999, "GRN"), 404, "not_found")


def test_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"put", "patch", "get"} <= set(paths["/api/v1/appointments/{external_id}"])
    assert "get" in paths["/api/v1/appointments"]
    assert "get" in paths["/api/v1/locations/{code}/availability"]
    assert "get" in paths["/api/v1/staff/{staff_id}/eligibility"]


def test_overlong_external_id_is_422(put):
    problem = assert_problem(put("B" * 101), 422, "invalid_input")
    assert "external_id" in problem["errors"]


def test_control_characters_are_422(put):
    problem = assert_problem(put(patient_ref="P-\x001"), 422, "invalid_input")
    assert "patient_ref" in problem["errors"]


def test_out_of_range_instant_is_422(put):
    assert_problem(put(ends_at="9999-12-31T23:59:00-05:00"), 422, "invalid_input")


def test_unknown_ids_with_control_characters_are_404(client, headers, chain):
    assert_problem(client.get("/api/v1/appointments/BK%00", headers=headers), 404, "not_found")
    response = client.get(
        "/api/v1/locations/G%00/availability",
        query_string={"date": "2026-12-01", "kind": "infusion", "duration": 60},
        headers=headers,
    )
    assert_problem(response, 404, "not_found")
