"""Credential and registration status: the row's value and the SQL the lists filter on agree."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from opsadmin import models as m
from opsadmin.locations.service import registration_status, registration_status_sql
from opsadmin.staff.service import credential_status, credential_status_sql
from tests.factories import CredentialFactory, LocationFactory, StaffFactory

TODAY = dt.date(2026, 11, 2)
OFFSETS = (-1, 0, 1, 59, 60, 61, 400)


def test_python_and_sql_status_of_credentials_agree(session):
    staff = StaffFactory()
    for days in OFFSETS:
        for verified in (TODAY - dt.timedelta(days=10), None):
            CredentialFactory(
                staff=staff, kind="bls", state=None, verified_on=verified,
                expires_on=TODAY + dt.timedelta(days=days),
            )  # fmt: skip
    session.commit()
    rows = session.execute(sa.select(m.Credential, credential_status_sql(TODAY, 60))).all()
    statuses = {status for _, status in rows}
    assert statuses == {"expired", "unverified", "expiring", "valid"}
    assert all(credential_status(row, TODAY, 60) == status for row, status in rows)


def test_python_and_sql_status_of_registrations_agree(session):
    location = LocationFactory(code="GRN", dea=TODAY + dt.timedelta(days=400))
    for number, days in enumerate(OFFSETS):
        session.add(
            m.SiteRegistration(
                location=location, kind="state_csr", number=f"CSR{number}", state="IN",
                issued_on=TODAY - dt.timedelta(days=700), expires_on=TODAY + dt.timedelta(days=days),
            )
        )  # fmt: skip
    session.commit()
    rows = session.execute(sa.select(m.SiteRegistration, registration_status_sql(TODAY, 60))).all()
    assert {status for _, status in rows} == {"expired", "expiring", "valid"}
    assert all(registration_status(r.expires_on, TODAY, 60) == status for r, status in rows)
