"""The second wave's booking rules through the API: each code asserted (DESIGN §11.1).

staff_double_booked, patient_double_booked, not_started, the patient_ref pattern,
room_not_at_location, location_closed, referral_location_mismatch, and site licensing as data
(SiteRule) with the one function every surface asks.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.bookings.availability import availability
from opsadmin.locations.models import SiteRegistration, SiteRule
from opsadmin.referrals.models import Referral
from opsadmin.reports.utilisation import compute_utilisation
from tests.bookings.conftest import CHICAGO, DAY, PAST_DAY, at
from tests.factories import LocationFactory, ReferralFactory, RoomFactory, licensed_clinician

EVERY_DAY = [(d, "08:00", "18:00") for d in range(7)]


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write")


@pytest.fixture
def put(client, headers, chain):
    def send(external_id, **fields):
        body = {
            "location": "GRN",
            "room_id": chain.infusion.id,
            "staff_id": chain.dr_in.id,
            "kind": "infusion",
            "indication": "migraine",
            "patient_ref": f"P-{external_id}",
            "starts_at": at(DAY, "09:00").isoformat(),
            "ends_at": at(DAY, "11:00").isoformat(),
        } | fields
        return client.put(f"/api/v1/appointments/{external_id}", json=body, headers=headers)

    return send


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    return response.get_json()


@pytest.fixture
def dr_both(session, chain):
    """A physician licensed in Indiana and Illinois, working at GRN and CHI."""
    dr = licensed_clinician([chain.grn, chain.chi], states=("IN", "IL"))
    session.commit()
    return dr


# -- staff_double_booked --------------------------------------------------------------------------


def test_clinician_booked_at_another_site_for_an_overlapping_slot_is_409(put, chain, dr_both):
    assert put("BK-GRN", staff_id=dr_both.id).status_code == 201
    # 08:30–10:30 in Chicago is 09:30–11:30 in Greencastle.
    response = put(
        "BK-CHI",
        location="CHI",
        room_id=chain.chi_infusion.id,
        staff_id=dr_both.id,
        starts_at=at(DAY, "08:30", CHICAGO).isoformat(),
        ends_at=at(DAY, "10:30", CHICAGO).isoformat(),
    )
    problem(response, 409, "staff_double_booked")


def test_clinician_at_another_site_after_the_first_ends_is_fine(put, chain, dr_both):
    assert put("BK-GRN", staff_id=dr_both.id).status_code == 201
    response = put(
        "BK-CHI",
        location="CHI",
        room_id=chain.chi_infusion.id,
        staff_id=dr_both.id,
        starts_at=at(DAY, "10:00", CHICAGO).isoformat(),  # 11:00 in Greencastle
        ends_at=at(DAY, "12:00", CHICAGO).isoformat(),
    )
    assert response.status_code == 201


def test_overlaps_at_the_same_site_stay_allowed(put):
    assert put("BK-1").status_code == 201
    assert put("BK-2").status_code == 201  # one clinician supervises several chairs


def test_cancelled_appointment_does_not_double_book_the_clinician(
    put, client, headers, chain, dr_both
):
    put("BK-GRN", staff_id=dr_both.id)
    client.patch("/api/v1/appointments/BK-GRN", json={"status": "cancelled"}, headers=headers)
    response = put(
        "BK-CHI",
        location="CHI",
        room_id=chain.chi_infusion.id,
        staff_id=dr_both.id,
        starts_at=at(DAY, "08:30", CHICAGO).isoformat(),
        ends_at=at(DAY, "10:30", CHICAGO).isoformat(),
    )
    assert response.status_code == 201


# -- patient_double_booked ------------------------------------------------------------------------


def test_patient_in_two_overlapping_appointments_is_409(put, chain):
    assert put("BK-1", patient_ref="P-7").status_code == 201
    response = put(
        "BK-2",
        patient_ref="P-7",
        kind="consult",
        room_id=chain.consult.id,
        starts_at=at(DAY, "10:30").isoformat(),
        ends_at=at(DAY, "11:30").isoformat(),
    )
    problem(response, 409, "patient_double_booked")


def test_patient_double_booked_across_sites(put, chain, dr_both):
    assert put("BK-1", patient_ref="P-7").status_code == 201
    response = put(
        "BK-2",
        patient_ref="P-7",
        location="CHI",
        room_id=chain.chi_infusion.id,
        staff_id=dr_both.id,
        starts_at=at(DAY, "08:30", CHICAGO).isoformat(),
        ends_at=at(DAY, "10:30", CHICAGO).isoformat(),
    )
    problem(response, 409, "patient_double_booked")


def test_rescheduling_an_appointment_does_not_clash_with_itself(put):
    assert put("BK-1", patient_ref="P-7").status_code == 201
    later = {"starts_at": at(DAY, "10:00").isoformat(), "ends_at": at(DAY, "12:00").isoformat()}
    assert put("BK-1", patient_ref="P-7", **later).status_code == 200


# -- not_started ----------------------------------------------------------------------------------


def test_completing_a_future_appointment_is_409_not_started(put, client, headers):
    put("BK-1")
    response = client.patch(
        "/api/v1/appointments/BK-1", json={"status": "completed"}, headers=headers
    )
    problem(response, 409, "not_started")
    response = client.patch(
        "/api/v1/appointments/BK-1", json={"status": "no_show"}, headers=headers
    )
    problem(response, 409, "not_started")
    problem(put("BK-1", status="completed"), 409, "not_started")


def test_a_future_appointment_pushed_as_completed_is_409_not_started(put):
    problem(put("BK-9", status="no_show"), 409, "not_started")


def test_a_past_appointment_may_be_completed(put, client, headers):
    past = {
        "starts_at": at(PAST_DAY, "09:00").isoformat(),
        "ends_at": at(PAST_DAY, "11:00").isoformat(),
    }
    assert put("BK-1", **past).status_code == 201
    response = client.patch(
        "/api/v1/appointments/BK-1", json={"status": "completed"}, headers=headers
    )
    assert response.status_code == 200


# -- patient_ref ----------------------------------------------------------------------------------


def test_a_name_as_patient_ref_is_422(put):
    body = problem(put("BK-1", patient_ref="John Smith DOB 1980-01-01"), 422, "invalid_input")
    assert "patient_ref" in body["errors"]


def test_a_name_as_referral_patient_ref_is_422(client, api_headers, chain):
    body = {
        "patient_ref": "John Smith DOB 1980-01-01",
        "indication": "migraine",
        "referring_provider": {"name": "Dr N", "npi": "1234567893", "practice": "P"},
        "received_on": "2026-11-20",
        "consult_location": "GRN",
        "treatment_location": "GRN",
    }
    response = client.post("/api/v1/referrals", json=body, headers=api_headers("read", "write"))
    assert "patient_ref" in problem(response, 422, "invalid_input")["errors"]


# -- where the room is, and whether the site is open ----------------------------------------------


def test_room_of_another_site_is_room_not_at_location(put, chain):
    problem(put("BK-1", room_id=chain.chi_infusion.id), 409, "room_not_at_location")


def test_location_closure_is_location_closed_and_room_closure_room_closed(put, session, chain):
    from opsadmin.locations.models import LocationClosure
    from opsadmin.rooms.models import RoomClosure

    session.add(
        RoomClosure(room=chain.infusion, starts_at=at(DAY, "10:00"), ends_at=at(DAY, "10:30"))
    )
    session.commit()
    problem(put("BK-1"), 409, "room_closed")
    session.add(LocationClosure(location=chain.grn, starts_on=DAY, ends_on=DAY))
    session.commit()
    problem(put("BK-2"), 409, "location_closed")


# -- referral_location_mismatch -------------------------------------------------------------------


def test_infusion_in_indiana_cannot_link_a_chicago_only_referral_nor_move_it(put, session, chain):
    referral = ReferralFactory(
        consult_location=chain.chi, treatment_location=chain.chi, status="approved"
    )
    session.commit()
    problem(put("BK-1", referral_id=referral.id), 409, "referral_location_mismatch")
    session.rollback()
    assert session.get(Referral, referral.id).status == "approved"  # not moved to treatment


def test_consult_must_be_at_the_referrals_consult_location(put, session, chain):
    referral = ReferralFactory(consult_location=chain.chi, treatment_location=chain.grn)
    session.commit()
    response = put("BK-1", kind="consult", room_id=chain.consult.id, referral_id=referral.id)
    problem(response, 409, "referral_location_mismatch")
    # Its infusions belong at GRN, its treatment location: that link is fine once approved.
    referral.status = "approved"
    session.commit()
    assert put("BK-2", referral_id=referral.id).status_code == 201


# -- site licensing: SiteRule data, one function ---------------------------------------------------


def test_lapsed_state_csr_refuses_infusions_naming_the_missing_kind(put, session, chain):
    csr = session.scalar(
        sa.select(SiteRegistration).where(
            SiteRegistration.location_id == chain.grn.id, SiteRegistration.kind == "state_csr"
        )
    )
    csr.expires_on = DAY - dt.timedelta(days=1)
    session.commit()
    body = problem(put("BK-1"), 409, "site_not_licensed")
    assert "state_csr" in body["detail"]


def test_site_rules_are_data(put, session, chain):
    session.execute(sa.delete(SiteRegistration).where(SiteRegistration.kind == "state_csr"))
    session.commit()
    problem(put("BK-1"), 409, "site_not_licensed")
    session.execute(
        sa.delete(SiteRule).where(SiteRule.state == "IN", SiteRule.registration_kind == "state_csr")
    )
    session.commit()
    assert put("BK-1").status_code == 201


def test_dea_of_another_state_only_booking_availability_and_report_agree(
    put, session, chain, client, api_headers
):
    """A site whose only DEA registration is another state's cannot take infusions: the booking
    rule, availability and the utilisation report say so alike (one licensing function)."""
    site = LocationFactory(code="TRH", hours=EVERY_DAY, dea=False)
    site.registrations.append(
        SiteRegistration(
            kind="dea_registration",
            number="FX0000001",
            state="IL",
            expires_on=DAY + dt.timedelta(days=400),
        )
    )
    room = RoomFactory(location=site, kind="infusion", capacity=2)
    dr = licensed_clinician([site])
    session.commit()

    body = problem(
        put("BK-1", location="TRH", room_id=room.id, staff_id=dr.id), 409, "site_not_licensed"
    )
    assert "dea_registration" in body["detail"]
    offered = availability(session, "TRH", DAY, "infusion", 120)
    assert offered.slots == []
    week = f"{DAY.isocalendar()[0]}-W{DAY.isocalendar()[1]:02d}"
    figures = client.get(
        "/api/v1/utilisation",
        query_string={"week": week, "location": "TRH"},
        headers=api_headers("read"),
    )
    assert figures.status_code == 200, figures.get_json()
    report = compute_utilisation(session, week, sa.literal(True))
    sites = {loc["code"]: loc for loc in report["locations"]}
    assert sites["TRH"]["dea_lapsed"] is True
    assert sites["TRH"]["registrations_missing"] == ["dea_registration"]
    assert sites["GRN"]["dea_lapsed"] is False and sites["GRN"]["registrations_missing"] == []
