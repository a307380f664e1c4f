"""Bookings at risk (DESIGN §11.2): a write that touches bookings succeeds, says how many it left at
risk, and the bookings carry why; undoing it clears them. Through the API, the console and the
daily job (on a frozen clock)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from opsadmin.bookings import jobs as risk_jobs
from opsadmin.bookings import models as booking_models
from opsadmin.bookings import risk
from opsadmin.bookings import service as booking_service
from opsadmin.bookings.models import AppointmentRisk
from opsadmin.extensions import db
from opsadmin.locations.models import LocationClosure, SiteRegistration
from opsadmin.staff.models import Credential
from tests.bookings.conftest import DAY, at
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    RoomFactory,
    UserFactory,
    licensed_clinician,
)

NEXT_DAY = DAY + dt.timedelta(days=1)


@pytest.fixture
def admin(api_headers):
    return api_headers("read", "admin")


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write")


@pytest.fixture
def put(client, headers, chain):
    def send(external_id, day=DAY, hours=("09:00", "11:00"), **fields):
        body = {
            "location": "GRN",
            "room_id": chain.infusion.id,
            "staff_id": chain.dr_in.id,
            "kind": "infusion",
            "indication": "migraine",
            "patient_ref": f"P-{external_id}",
            "starts_at": at(day, hours[0]).isoformat(),
            "ends_at": at(day, hours[1]).isoformat(),
        } | fields
        response = client.put(f"/api/v1/appointments/{external_id}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    return send


@pytest.fixture
def at_risk(client, headers):
    """at_risk("BK-1") → its at_risk list as GET answers it; at_risk() → ids of ?at_risk=true."""

    def read(external_id=None):
        if external_id is not None:
            return client.get(f"/api/v1/appointments/{external_id}", headers=headers).json[
                "at_risk"
            ]
        listed = client.get("/api/v1/appointments?at_risk=true&page_size=100", headers=headers)
        return sorted(a["external_id"] for a in listed.json)

    return read


# -- closures ------------------------------------------------------------------------------------


def test_closure_over_a_booked_day_via_api_reports_and_marks_them_and_removal_clears(
    client, session, admin, put, at_risk
):
    put("BK-1")
    put("BK-2", hours=("13:00", "15:00"))
    put("BK-3", day=NEXT_DAY)
    response = client.post(
        "/api/v1/locations/GRN/closures",
        json={"starts_on": DAY.isoformat(), "ends_on": DAY.isoformat(), "reason": "Burst pipe"},
        headers=admin,
    )
    assert response.status_code == 201
    assert response.json["bookings_at_risk"] == 2
    assert at_risk("BK-1") == at_risk("BK-2") == ["location_closed"]
    assert at_risk("BK-3") == []
    assert at_risk() == ["BK-1", "BK-2"]

    session.rollback()
    session.delete(session.scalars(sa.select(LocationClosure)).one())
    session.commit()
    assert at_risk("BK-1") == at_risk("BK-2") == []
    assert at_risk() == []


def test_closure_via_the_console_asks_first_then_saves_and_marks_them(
    client, auth, session, chain, put, at_risk
):
    put("BK-1")
    user = UserFactory(role="admin")
    session.commit()
    auth.login(user)
    form = {
        "location": str(chain.grn.id),
        "starts_on": DAY.isoformat(),
        "ends_on": DAY.isoformat(),
        "reason": "Burst pipe",
    }
    first = client.post("/admin/location_closures/new/", data=form, follow_redirects=True)
    assert "would put 1 booking(s) at risk: BK-1 (GRN" in first.text
    assert "location_closed" in first.text
    session.rollback()
    assert session.scalar(sa.select(sa.func.count(LocationClosure.id))) == 0
    assert at_risk("BK-1") == []

    confirmed = client.post(
        "/admin/location_closures/new/", data=form | {"confirm_impact": "y"}, follow_redirects=True
    )
    assert "1 booking(s) touched by this change are at risk" in confirmed.text
    assert at_risk("BK-1") == ["location_closed"]
    page = client.get("/admin/at-risk/?location=GRN")
    assert page.status_code == 200
    assert "BK-1" in page.text and "location closed" in page.text
    assert f"/admin/board/?location=GRN&amp;date={DAY.isoformat()}" in page.text

    closure = session.scalars(sa.select(LocationClosure)).one()
    client.post("/admin/location_closures/delete/", data={"id": str(closure.id), "url": "/admin/"})
    assert at_risk("BK-1") == []


# -- rooms ---------------------------------------------------------------------------------------


def test_lowered_room_capacity_puts_the_overlap_at_risk_and_a_cancellation_clears_it(
    client, chain, admin, headers, put, at_risk
):
    for n in range(3):
        put(f"BK-{n}")
    response = client.patch(
        f"/api/v1/rooms/{chain.infusion.id}", json={"capacity": 2}, headers=admin
    )
    assert response.status_code == 200
    assert response.json["bookings_at_risk"] == 3
    assert at_risk() == ["BK-0", "BK-1", "BK-2"]
    assert at_risk("BK-0") == ["over_capacity"]

    client.patch("/api/v1/appointments/BK-0", json={"status": "cancelled"}, headers=headers)
    assert at_risk() == []  # two left in two chairs


def test_room_closure_and_inactive_room_are_their_own_reasons(client, chain, admin, put, at_risk):
    put("BK-1")
    closure = {"starts_at": at(DAY, "10:00").isoformat(), "ends_at": at(DAY, "12:00").isoformat()}
    response = client.post(
        f"/api/v1/rooms/{chain.infusion.id}/closures", json=closure, headers=admin
    )
    assert response.status_code == 201 and response.json["bookings_at_risk"] == 1
    response = client.patch(
        f"/api/v1/rooms/{chain.infusion.id}", json={"active": False}, headers=admin
    )
    assert response.json["bookings_at_risk"] == 1
    assert at_risk("BK-1") == ["room_closed", "room_inactive"]


# -- sites and clinicians ------------------------------------------------------------------------


def test_lapsed_site_csr_puts_infusions_at_risk_and_a_renewal_clears_them(
    client, session, chain, admin, put, at_risk
):
    put("BK-1")
    put("BK-2", kind="consult", room_id=chain.consult.id, hours=("13:00", "14:00"))
    csr = session.scalars(
        sa.select(SiteRegistration).where(
            SiteRegistration.location_id == chain.grn.id, SiteRegistration.kind == "state_csr"
        )
    ).one()
    csr.expires_on = DAY - dt.timedelta(days=1)  # corrected in the console: it lapses before DAY
    session.commit()
    assert at_risk("BK-1") == ["site_not_licensed"]
    assert at_risk("BK-2") == []  # consults need no site registration

    renewal = {
        "kind": "state_csr",
        "number": "01209999A",
        "state": "IN",
        "expires_on": "2028-01-01",
    }
    response = client.post("/api/v1/locations/GRN/registrations", json=renewal, headers=admin)
    assert response.status_code == 201 and response.json["bookings_at_risk"] == 0
    assert at_risk("BK-1") == []


def test_clinician_moved_off_a_site_leaves_its_bookings_at_risk(client, chain, admin, put, at_risk):
    put("BK-1")
    response = client.patch(
        f"/api/v1/staff/{chain.dr_in.id}", json={"locations": ["CHI"]}, headers=admin
    )
    assert response.status_code == 200 and response.json["bookings_at_risk"] == 1
    assert at_risk("BK-1") == ["staff_not_eligible"]


def test_new_hours_that_leave_a_booking_outside_are_location_closed(client, admin, put, at_risk):
    put("BK-1", hours=("16:00", "18:00"))
    hours = [{"weekday": d, "opens": "08:00", "closes": "17:00"} for d in range(7)]
    response = client.patch("/api/v1/locations/GRN", json={"opening_hours": hours}, headers=admin)
    assert response.status_code == 200 and response.json["bookings_at_risk"] == 1
    assert at_risk("BK-1") == ["location_closed"]


def test_reasons_come_in_the_contract_order(session, chain, put):
    put("BK-1")
    appointment = session.scalars(sa.select(booking_models.Appointment)).one()
    chain.infusion.active = False
    chain.grn.closures.append(LocationClosure(starts_on=DAY, ends_on=DAY))
    session.commit()
    assert appointment.at_risk == ["location_closed", "room_inactive"]


def test_past_and_cancelled_bookings_are_never_at_risk(
    session, chain, put, at_risk, client, headers
):
    put("BK-1")
    chain.grn.closures.append(LocationClosure(starts_on=DAY, ends_on=DAY))
    session.commit()
    assert at_risk("BK-1") == ["location_closed"]
    client.patch("/api/v1/appointments/BK-1", json={"status": "cancelled"}, headers=headers)
    assert at_risk("BK-1") == [] and at_risk() == []


# -- ?at_risk=true, exactly ----------------------------------------------------------------------


def test_at_risk_list_returns_exactly_the_bookings_at_risk(
    client, session, chain, admin, put, at_risk
):
    """A chain built for it: one booking per reason the writes below cause, and bystanders."""
    dr_both = licensed_clinician([chain.grn, chain.chi], states=("IN", "IL"))
    session.commit()
    put("CLOSED")  # GRN closed on DAY
    put("FINE-GRN", day=NEXT_DAY)
    put("CHI-1", location="CHI", room_id=chain.chi_infusion.id, staff_id=dr_both.id)
    put("CHI-2", location="CHI", room_id=chain.chi_infusion.id, staff_id=dr_both.id, day=NEXT_DAY)
    client.post(
        "/api/v1/locations/GRN/closures",
        json={"starts_on": DAY.isoformat(), "ends_on": DAY.isoformat()},
        headers=admin,
    )
    # dr_both loses the Illinois licence from NEXT_DAY on: CHI-2 is at risk, CHI-1 is not.
    licence = session.scalars(
        sa.select(Credential).where(Credential.staff_id == dr_both.id, Credential.state == "IL")
    ).first()
    licence.expires_on = DAY
    session.commit()
    assert at_risk() == ["CHI-2", "CLOSED"]
    listed = client.get("/api/v1/appointments?at_risk=true&location=CHI", headers=admin).json
    assert [(a["external_id"], a["at_risk"]) for a in listed] == [("CHI-2", ["staff_not_eligible"])]
    others = client.get("/api/v1/appointments?at_risk=false", headers=admin).json
    assert sorted(a["external_id"] for a in others) == ["CHI-1", "FINE-GRN"]


# -- cost: what a write judges does not grow with the table --------------------------------------


@contextmanager
def counted():
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _fill_elsewhere(session, count: int) -> None:
    """``count`` future bookings at another site (the closure cannot touch them)."""
    site = LocationFactory(code=f"X{count}")
    room = RoomFactory(location=site, capacity=count)
    dr = licensed_clinician([site])
    start = dt.datetime.combine(DAY, dt.time(15), dt.UTC)
    for n in range(count):
        AppointmentFactory(
            room=room, location=site, staff=dr, starts_at=start + dt.timedelta(minutes=n)
        )
    session.commit()


def _statements_judging_a_closure(client, session, admin, day: dt.date) -> int:
    with counted() as statements:
        response = client.post(
            "/api/v1/locations/GRN/closures",
            json={"starts_on": day.isoformat(), "ends_on": day.isoformat()},
            headers=admin,
        )
    assert response.status_code == 201 and response.json["bookings_at_risk"] == 2
    # Transaction control (BEGIN on a fresh SQLite connection) is not work on the table.
    return [s for s in statements if s.split()[0].upper() not in ("BEGIN", "COMMIT")]


def test_judging_a_writes_bookings_does_not_grow_with_the_table(client, session, admin, put):
    put("BK-A1", day=DAY)
    put("BK-A2", day=DAY, hours=("12:00", "14:00"))
    put("BK-B1", day=NEXT_DAY)
    put("BK-B2", day=NEXT_DAY, hours=("12:00", "14:00"))
    _fill_elsewhere(session, 10)
    client.get("/api/v1/regions", headers=admin)  # the key's first use records it: not counted
    few = _statements_judging_a_closure(client, session, admin, DAY)
    _fill_elsewhere(session, 400)
    many = _statements_judging_a_closure(client, session, admin, NEXT_DAY)
    assert len(many) == len(few)


def test_a_checked_booking_costs_no_judgement(session, chain, book):
    with counted() as statements:
        book()
    assert not any("appointment_risk" in s and "INSERT" in s for s in statements)


# -- the daily job, on a frozen clock ------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """clock.set(instant): every module that asks for "now" gets it."""

    class Clock:
        def set(self, instant: dt.datetime) -> None:
            for module in (risk, risk_jobs, booking_models, booking_service):
                monkeypatch.setattr(module, "utcnow", lambda: instant)

    return Clock()


def outbox(app) -> list[str]:
    return sorted(p.read_text() for p in Path(app.config["OPSADMIN_OUTBOX_DIR"]).glob("*.eml"))


def test_daily_job_finds_a_lapse_no_write_announced_and_mails_it_once(
    app, session, chain, put, client, admin, at_risk, clock
):
    ops = UserFactory(role="ops_manager", email="ops@example.org", regions=[chain.grn.region])
    put("BK-1")
    # An out-of-band import (no ORM, no judging) shortens the clinician's ACLS: it lapses the
    # day before the infusion.
    session.execute(
        sa.update(Credential)
        .where(Credential.staff_id == chain.dr_in.id, Credential.kind == "acls")
        .values(expires_on=DAY - dt.timedelta(days=1))
    )
    session.commit()
    assert ops.id and at_risk("BK-1") == []

    clock.set(dt.datetime.combine(DAY - dt.timedelta(days=1), dt.time(11, 45), dt.UTC))
    assert risk_jobs.check_bookings_at_risk() == 1
    assert at_risk("BK-1") == ["staff_not_eligible"]
    [mail] = outbox(app)
    assert "To: ops@example.org" in mail and "BK-1" in mail and "GRN" in mail
    assert "staff_not_eligible" in mail and DAY.isoformat() in mail
    assert "P-BK-1" not in mail  # no patient data

    clock.set(dt.datetime.combine(DAY, dt.time(11, 45), dt.UTC))
    assert risk_jobs.check_bookings_at_risk() == 0  # the same booking and reason: not again
    assert len(outbox(app)) == 1

    renewal = {
        "kind": "acls",
        "number": "ACLS-2",
        "issued_on": "2026-01-01",
        "expires_on": "2028-01-01",
        "verified_on": "2026-01-02",
    }
    response = client.post(
        f"/api/v1/staff/{chain.dr_in.id}/credentials", json=renewal, headers=admin
    )
    assert response.status_code == 201, response.json
    assert response.json["bookings_at_risk"] == 0
    assert at_risk("BK-1") == []


def test_daily_job_forgets_bookings_that_have_happened(session, chain, put, clock):
    put("BK-1")
    chain.grn.closures.append(LocationClosure(starts_on=DAY, ends_on=DAY))
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(AppointmentRisk)) == 1
    clock.set(dt.datetime.combine(DAY + dt.timedelta(days=2), dt.time(12), dt.UTC))
    risk_jobs.check_bookings_at_risk()
    assert session.scalar(sa.select(sa.func.count()).select_from(AppointmentRisk)) == 0
