"""Master-data rules of staff members, credentials and credential rules."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.errors import Conflict, InvalidInput
from opsadmin.staff import service
from opsadmin.staff.models import Credential, CredentialRule, StaffMember
from tests.factories import AppointmentFactory, LocationFactory, StaffFactory

ISSUED = dt.date(2025, 1, 1)


def _staff(session, **overrides):
    values = {"name": "Dr Ada", "email": "ada@clinic.example.org", "role": "physician"}
    values.update(overrides)
    return service.create_staff(session, **values)


def test_create_staff_at_location_codes(session):
    LocationFactory(code="GRN")
    staff = _staff(session, locations=["GRN"])
    assert [loc.code for loc in staff.locations] == ["GRN"]


def test_staff_email_syntax_checked(session):
    with pytest.raises(InvalidInput) as error:
        _staff(session, email="ada at clinic")
    assert "not a valid e-mail" in error.value.errors["email"][0]


def test_staff_email_unique_ignoring_case(session):
    _staff(session)
    with pytest.raises(Conflict) as error:
        _staff(session, email="ADA@clinic.example.org", name="Other")
    assert error.value.code == "duplicate"


def test_staff_role_must_be_known(session):
    with pytest.raises(InvalidInput) as error:
        _staff(session, role="wizard")
    assert "role" in error.value.errors


def test_unknown_location_code_refused(session):
    with pytest.raises(InvalidInput) as error:
        _staff(session, locations=["NOPE"])
    assert "locations" in error.value.errors


def test_update_staff_locations_is_audited(session):
    staff = _staff(session)
    LocationFactory(code="IND")
    session.commit()
    service.update_staff(session, staff, locations=["IND"])
    session.commit()
    update = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "StaffMember", AuditEvent.action == "update"
        )
    ).one()
    assert update.changes["locations"]["added"]


def test_staff_with_appointments_cannot_be_deleted(session):
    appointment = AppointmentFactory()
    with pytest.raises(Conflict) as error:
        service.delete_staff(session, appointment.staff)
    assert "deactivate" in error.value.message


def test_staff_without_history_can_be_deleted(session):
    staff = StaffFactory()
    service.delete_staff(session, staff)
    assert session.get(StaffMember, staff.id) is None


def _credential(session, staff, **overrides):
    values = {
        "kind": "state_license",
        "number": "IN-1",
        "state": "IN",
        "issued_on": ISSUED,
        "expires_on": ISSUED + dt.timedelta(days=730),
    }
    values.update(overrides)
    return service.add_credential(session, staff, **values)


def test_add_credential(session):
    staff = StaffFactory()
    credential = _credential(session, staff)
    assert credential.id and staff.credentials == [credential]


def test_credential_expiry_before_issue_refused_and_nothing_saved(session):
    staff = StaffFactory()
    session.commit()
    with pytest.raises(InvalidInput) as error:
        _credential(session, staff, expires_on=ISSUED - dt.timedelta(days=1))
    assert "after the issue date" in error.value.errors["expires_on"][0]
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Credential)) == 0
    assert (
        session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "Credential")).all() == []
    )


def test_state_issued_credential_needs_a_state(session):
    with pytest.raises(InvalidInput) as error:
        _credential(session, StaffFactory(), kind="dea_registration", state=None)
    assert "state" in error.value.errors


def test_credential_state_must_be_a_us_code(session):
    with pytest.raises(InvalidInput) as error:
        _credential(session, StaffFactory(), state="Indiana")
    assert "state" in error.value.errors


def test_acls_needs_no_state(session):
    assert _credential(session, StaffFactory(), kind="acls", state=None).state is None


def test_credential_kind_must_be_known(session):
    with pytest.raises(InvalidInput) as error:
        _credential(session, StaffFactory(), kind="pilot_license")
    assert "kind" in error.value.errors


def test_update_credential_verification(session):
    credential = _credential(session, StaffFactory())
    service.update_credential(session, credential, verified_on=ISSUED, verified_by="cred team")
    assert credential.verified_by == "cred team"


def test_duplicate_credential_rule_refused(session):
    service.ensure_default_rules(session)
    rule = CredentialRule(
        role="physician", appointment_kind="consult", credential_kind="state_license"
    )
    with pytest.raises(Conflict):
        service.validate_credential_rule(session, rule)
