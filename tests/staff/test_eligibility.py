"""Eligibility from the credential rules: state-issued credentials for the site's state, dates, gaps."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.errors import NotFound
from opsadmin.staff.eligibility import eligibility, eligibility_many, eligible_staff
from opsadmin.staff.models import Credential, CredentialRule
from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    RegionFactory,
    StaffFactory,
    licensed_clinician,
)

DAY = dt.date(2026, 12, 1)


@pytest.fixture
def grn(session):
    ensure_default_rules(session)
    return LocationFactory(code="GRN")


@pytest.fixture
def chi(session):
    return LocationFactory(
        code="CHI", region=RegionFactory(code="IL"), state="IL", timezone="America/Chicago"
    )


def credential(staff, kind):
    return next(c for c in staff.credentials if c.kind == kind)


def test_indiana_only_clinician_is_eligible_at_greencastle(session, grn):
    doctor = licensed_clinician([grn])
    answer = eligibility(session, doctor.id, grn.id, DAY, "infusion")
    assert answer.eligible and answer.missing == []


def test_indiana_only_clinician_lacks_the_illinois_license_in_chicago(session, grn, chi):
    doctor = licensed_clinician([grn, chi])
    answer = eligibility(session, doctor.id, chi.id, DAY, "consult")
    assert not answer.eligible
    assert answer.missing == [{"kind": "state_license", "state": "IL", "reason": "missing"}]


def test_infusion_in_chicago_also_needs_the_illinois_dea_registration(session, grn, chi):
    doctor = licensed_clinician([grn, chi])
    answer = eligibility(session, doctor.id, chi.id, DAY, "infusion")
    assert {"kind": "dea_registration", "state": "IL", "reason": "missing"} in answer.missing


def test_expired_acls_makes_infusions_ineligible_but_consults_fine(session, grn):
    doctor = licensed_clinician([grn])
    acls = credential(doctor, "acls")
    acls.issued_on, acls.expires_on = dt.date(2024, 1, 1), DAY - dt.timedelta(days=1)
    session.flush()
    infusion = eligibility(session, doctor.id, grn.id, DAY, "infusion")
    assert infusion.missing == [{"kind": "acls", "reason": "expired"}]
    assert eligibility(session, doctor.id, grn.id, DAY, "consult").eligible


def test_credential_is_good_through_its_expiry_date(session, grn):
    doctor = licensed_clinician([grn])
    credential(doctor, "acls").expires_on = DAY
    session.flush()
    assert eligibility(session, doctor.id, grn.id, DAY, "infusion").eligible


def test_expiring_credential_still_counts(session, grn):
    doctor = licensed_clinician([grn])
    credential(doctor, "acls").expires_on = DAY + dt.timedelta(days=10)
    session.flush()
    assert eligibility(session, doctor.id, grn.id, DAY, "infusion").eligible


def test_unverified_license_is_reported_unverified(session, grn):
    doctor = licensed_clinician([grn])
    credential(doctor, "state_license").verified_on = None
    session.flush()
    answer = eligibility(session, doctor.id, grn.id, DAY, "consult")
    assert answer.missing == [{"kind": "state_license", "state": "IN", "reason": "unverified"}]


def test_a_valid_renewal_beats_an_expired_license(session, grn):
    doctor = licensed_clinician([grn])
    old = credential(doctor, "state_license")
    old.issued_on, old.expires_on = dt.date(2020, 1, 1), dt.date(2022, 1, 1)
    CredentialFactory(staff=doctor, kind="state_license", state="IN")
    session.flush()
    assert eligibility(session, doctor.id, grn.id, DAY, "consult").eligible


def test_credential_issued_after_the_date_does_not_cover_it(session, grn):
    doctor = licensed_clinician([grn])
    credential(doctor, "state_license").issued_on = DAY + dt.timedelta(days=1)
    session.flush()
    answer = eligibility(session, doctor.id, grn.id, DAY, "consult")
    assert answer.missing == [{"kind": "state_license", "state": "IN", "reason": "missing"}]


def test_clinician_not_assigned_to_the_location_is_ineligible_there(session, grn):
    doctor = licensed_clinician([])
    answer = eligibility(session, doctor.id, grn.id, DAY, "consult")
    assert answer.missing == [{"kind": "location", "reason": "not_assigned"}]


def test_inactive_clinician_is_ineligible(session, grn):
    doctor = licensed_clinician([grn], active=False)
    answer = eligibility(session, doctor.id, grn.id, DAY, "consult")
    assert answer.missing == [{"kind": "staff", "reason": "inactive"}]


def test_role_without_a_rule_for_the_kind_is_ineligible(session, grn):
    nurse = StaffFactory(role="registered_nurse", locations=[grn])
    answer = eligibility(session, nurse.id, grn.id, DAY, "infusion")
    assert answer.missing == [{"kind": "credential_rule", "reason": "no_rule"}]


def test_rules_are_data(session, grn):
    session.add(
        CredentialRule(role="registered_nurse", appointment_kind="follow_up", credential_kind="bls")
    )
    nurse = StaffFactory(role="registered_nurse", locations=[grn])
    CredentialFactory(staff=nurse, kind="bls", state=None)
    session.flush()
    assert eligibility(session, nurse.id, grn.id, DAY, "follow_up").eligible
    session.execute(sa.delete(Credential).where(Credential.staff_id == nurse.id))
    session.expire_all()
    answer = eligibility(session, nurse.id, grn.id, DAY, "follow_up")
    assert answer.missing == [{"kind": "bls", "reason": "missing"}]


def test_unknown_staff_member_is_not_found(session, grn):
    with pytest.raises(NotFound):
        eligibility(session, 999_999, grn.id, DAY, "consult")


def test_eligibility_of_many_staff_takes_a_bounded_number_of_queries(session, grn):
    staff = [licensed_clinician([grn]) for _ in range(12)]
    session.commit()
    ids = [s.id for s in staff]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        answers = eligibility_many(session, ids, grn.id, DAY, "infusion")
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert all(answer.eligible for answer in answers.values())
    assert len(answers) == 12
    assert len(statements) <= 6


def test_eligible_staff_lists_only_those_who_may_take_the_kind(session, grn, chi):
    indiana = licensed_clinician([grn, chi], name="A Indiana")
    both = licensed_clinician([grn, chi], states=("IN", "IL"), name="B Both")
    StaffFactory(role="coordinator", locations=[grn])
    licensed_clinician([], name="C Elsewhere")
    assert eligible_staff(session, grn.id, DAY, "infusion") == [indiana, both]
    assert eligible_staff(session, chi.id, DAY, "infusion") == [both]
