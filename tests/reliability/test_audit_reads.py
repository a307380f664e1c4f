"""Every API read that returns patient_refs is an audit event naming the key (issue 11, problem 8)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.extensions import db
from tests.factories import AppointmentFactory, LocationFactory, ReferralFactory, RoomFactory


def view_events(entity: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.entity == entity)
        )
    )


@pytest.fixture
def rows(session):
    site = LocationFactory(code="GRN")
    referrals = [ReferralFactory(consult_location=site) for _ in range(2)]
    appointment = AppointmentFactory(room=RoomFactory(location=site))
    session.commit()
    return referrals, appointment


@pytest.mark.parametrize(
    "url,entity",
    [("/api/v1/referrals", "Referral"), ("/api/v1/appointments?location=GRN", "Appointment")],
)
def test_list_returning_patient_refs_records_a_view_by_the_key(
    client, api_headers, rows, url, entity
):
    headers = api_headers("read")
    response = client.get(url, headers=headers)
    assert response.status_code == 200 and response.json
    assert all("patient_ref" in item for item in response.json)
    [event] = view_events(entity)
    assert event.actor_type == "api_key" and event.actor_id == api_headers.last_key.id
    assert len(event.changes["ids"]) == len(response.json)


def test_reading_one_appointment_records_a_view_naming_it(client, api_headers, rows):
    _, appointment = rows
    headers = api_headers("read")
    response = client.get(f"/api/v1/appointments/{appointment.external_id}", headers=headers)
    assert response.status_code == 200 and response.json["patient_ref"] == appointment.patient_ref
    [event] = view_events("Appointment")
    assert event.entity_id == str(appointment.id)
    assert event.actor_id == api_headers.last_key.id
