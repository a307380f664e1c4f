"""The compliance page (/admin/compliance/): active clinicians × their locations, eligible for
infusions and consults today, in 30 and in 60 days, what is missing; scoped and filtered; a
constant number of statements."""

from __future__ import annotations

import datetime as dt

import pytest

from opsadmin.extensions import db
from opsadmin.staff.compliance import compliance_matrix, visible_locations
from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    RegionFactory,
    StaffFactory,
    UserFactory,
    licensed_clinician,
)
from tests.test_query_counts import MAX_STATEMENTS_PER_PAGE, counted, page_statements

TODAY = dt.date.today()


def matrix(session, region_ids=None, **filters):
    return compliance_matrix(session, TODAY, visible_locations(session, region_ids), **filters)


@pytest.fixture
def sites(session):
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN", state="IN")
    chi = LocationFactory(
        code="CHI", state="IL", timezone="America/Chicago", region=RegionFactory(code="IL")
    )
    session.flush()
    return grn, chi


def row_for(rows, name, code):
    return next(r for r in rows if r.staff.name == name and r.location.code == code)


def test_out_of_state_clinician_is_flagged_at_the_site_they_hold_no_licence_for(session, sites):
    grn, chi = sites
    licensed_clinician([grn, chi], states=("IN",), name="Dr Morgan Hale")
    rows = matrix(session)
    at_grn, at_chi = row_for(rows, "Dr Morgan Hale", "GRN"), row_for(rows, "Dr Morgan Hale", "CHI")
    assert not at_grn.flagged
    assert at_chi.flagged
    infusion = next(k for k in at_chi.kinds if k.kind == "infusion")
    assert infusion.eligible == {0: False, 30: False, 60: False}
    assert {"kind": "state_license", "state": "IL", "reason": "missing"} in infusion.missing[0]


def test_a_licence_expiring_within_30_days_shows_as_lapsing(session, sites):
    grn, _ = sites
    staff = StaffFactory(name="Dr Soon Lapsed", locations=[grn])
    CredentialFactory(staff=staff, kind="state_license", expires_on=TODAY + dt.timedelta(days=20))
    CredentialFactory(staff=staff, kind="dea_registration")
    CredentialFactory(staff=staff, kind="acls", state=None)
    row = row_for(matrix(session), "Dr Soon Lapsed", "GRN")
    consult = next(k for k in row.kinds if k.kind == "consult")
    assert consult.eligible == {0: True, 30: False, 60: False} and consult.lapses_in == 30
    assert row.lapsing and not row.flagged
    assert consult.gaps == [({"kind": "state_license", "state": "IN", "reason": "expired"}, 30)]


def test_only_active_clinicians_are_listed(session, sites):
    grn, _ = sites
    licensed_clinician([grn], name="Dr Gone", active=False)
    StaffFactory(name="Nurse Not Clinician", role="registered_nurse", locations=[grn])
    licensed_clinician([grn], name="Dr Here")
    assert [r.staff.name for r in matrix(session)] == ["Dr Here"]


def test_filters_and_scoping(session, sites):
    grn, chi = sites
    licensed_clinician([grn, chi], states=("IN", "IL"), name="Dr Both")
    assert [r.location.code for r in matrix(session, location="CHI")] == ["CHI"]
    assert [r.location.code for r in matrix(session, region="IN")] == ["GRN"]
    scoped = matrix(session, {grn.region_id}, location="CHI")
    assert scoped == []


def test_compliance_page_flags_the_out_of_state_clinician_for_a_lead_of_that_region(
    client, auth, session, sites
):
    grn, chi = sites
    licensed_clinician([grn, chi], states=("IN",), name="Dr Morgan Hale")
    lead = UserFactory(role="regional_lead", regions=[chi.region])
    db.session.commit()
    auth.login(lead)
    page = client.get("/admin/compliance/")
    assert page.status_code == 200
    assert 'data-staff="Dr Morgan Hale" data-location="CHI" data-flagged="true"' in page.text
    assert 'data-location="GRN"' not in page.text  # not the lead's region
    assert "state license (IL): missing" in page.text


def test_compliance_page_issues_the_same_few_statements_for_few_or_many_clinicians(
    client, auth, session, sites
):
    grn, chi = sites
    licensed_clinician([grn], name="Dr First")
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    client.get("/admin/compliance/")
    with counted() as few:
        assert client.get("/admin/compliance/").status_code == 200
    for n in range(30):
        licensed_clinician([grn, chi], states=("IN", "IL"), name=f"Dr Many {n:02d}")
    db.session.commit()
    with counted() as many:
        page = client.get("/admin/compliance/")
    assert page.text.count("data-flagged=") == 61
    few, many = (
        [s for s in page_statements(x) if s.strip().upper() != "BEGIN"] for x in (few, many)
    )
    assert len(few) == len(many) <= MAX_STATEMENTS_PER_PAGE, (len(few), len(many))
