"""The console's staff, credential and credential-rule views (issue 2 acceptance 5 and 6)."""

from __future__ import annotations

import datetime as dt

from opsadmin.extensions import db
from opsadmin.staff.models import Credential, StaffMember
from tests.console_forms import count, events, page_text, sign_in
from tests.factories import CredentialFactory, LocationFactory, StaffFactory

TODAY = dt.date.today()


def credential_form(staff, **overrides):
    form = {
        "staff": str(staff.id),
        "kind": "state_license",
        "number": "IN-1",
        "state": "IN",
        "issued_on": "2025-01-01",
        "expires_on": "2027-01-01",
    }
    form.update(overrides)
    return form


def test_credential_expiry_before_issue_refused_on_the_form(client, auth):
    sign_in(auth)
    staff = StaffFactory()
    db.session.commit()
    response = client.post(
        "/admin/credentials/new/", data=credential_form(staff, expires_on="2024-01-01")
    )
    assert response.status_code == 200
    assert "The expiry date must be after the issue date." in page_text(response)
    assert count(Credential) == 0
    assert events("Credential") == []


def test_state_license_without_state_refused(client, auth):
    sign_in(auth)
    staff = StaffFactory()
    db.session.commit()
    response = client.post("/admin/credentials/new/", data=credential_form(staff, state=""))
    assert "A US state code is required" in page_text(response)
    assert count(Credential) == 0


def test_staff_with_inline_credential_created_and_audited(client, auth):
    user = sign_in(auth)
    location = LocationFactory()
    db.session.commit()
    form = {
        "name": "Dr Ada",
        "email": "ada@clinic.example.org",
        "role": "physician",
        "locations": str(location.id),
        "active": "y",
        "credentials-0-kind": "acls",
        "credentials-0-number": "ACLS-1",
        "credentials-0-state": "",
        "credentials-0-issued_on": "2025-01-01",
        "credentials-0-expires_on": "2027-01-01",
    }
    response = client.post("/admin/staff/new/", data=form)
    assert response.status_code == 302
    staff = db.session.scalars(db.select(StaffMember)).one()
    assert [c.kind for c in staff.credentials] == ["acls"]
    created = {e.entity: e for e in events(action="create")}
    assert created["StaffMember"].actor_id == user.id
    assert created["Credential"].changes["number"] == "ACLS-1"


def test_staff_inline_credential_expiry_before_issue_refused(client, auth):
    sign_in(auth)
    form = {
        "name": "Dr Ada",
        "email": "ada@clinic.example.org",
        "role": "physician",
        "credentials-0-kind": "acls",
        "credentials-0-number": "ACLS-1",
        "credentials-0-issued_on": "2025-01-01",
        "credentials-0-expires_on": "2024-01-01",
    }
    response = client.post("/admin/staff/new/", data=form)
    assert "The expiry date must be after the issue date." in page_text(response)
    assert (count(StaffMember), count(Credential)) == (0, 0)


def test_staff_bad_email_refused(client, auth):
    sign_in(auth)
    form = {"name": "Dr Ada", "email": "ada at clinic", "role": "physician"}
    response = client.post("/admin/staff/new/", data=form)
    assert "'ada at clinic' is not a valid e-mail address." in page_text(response)
    assert count(StaffMember) == 0


def test_credential_status_shown_as_coloured_badge(client, auth):
    sign_in(auth)
    CredentialFactory(number="OK-1")
    CredentialFactory(number="SOON-1", expires_on=TODAY + dt.timedelta(days=10))
    CredentialFactory(number="OLD-1", expires_on=TODAY - dt.timedelta(days=1))
    CredentialFactory(number="NEW-1", verified_on=None)
    db.session.commit()
    html = page_text(client.get("/admin/credentials/"))
    for css, status in [
        ("badge-success", "valid"),
        ("badge-warning", "expiring"),
        ("badge-danger", "expired"),
        ("badge-secondary", "unverified"),
    ]:
        assert (
            f'<span class="badge {css} status-badge" data-status="{status}">{status.title()}</span>'
            in html
        )


def test_credential_filters_by_status_and_expiry_window(client, auth):
    sign_in(auth)
    CredentialFactory(number="OK-1")
    CredentialFactory(number="SOON-1", expires_on=TODAY + dt.timedelta(days=10))
    CredentialFactory(number="OLD-1", expires_on=TODAY - dt.timedelta(days=1))
    db.session.commit()
    html = page_text(client.get("/admin/credentials/"))
    assert "SOON-1" in html and "OK-1" in html
    index = _filter_index(html, "Expires within (days)")
    html = page_text(client.get(f"/admin/credentials/?flt0_{index}=30"))
    assert "SOON-1" in html and "OK-1" not in html and "OLD-1" not in html
    index = _filter_index(html, "Status")
    html = page_text(client.get(f"/admin/credentials/?flt0_{index}=expired"))
    assert "OLD-1" in html and "SOON-1" not in html


def _filter_index(html: str, name: str) -> int:
    import json
    import re

    groups = json.loads(re.search(r'id="filter-groups-data"[^>]*>(.*?)</', html, re.S).group(1))
    for label, filters in groups.items():
        if label == name:
            return filters[0]["index"]
    raise AssertionError(f"no filter {name!r}: {list(groups)}")


def test_staff_xss_in_name_is_escaped_in_the_list(client, auth):
    sign_in(auth)
    StaffFactory(name="<img src=x onerror=alert(1)>")
    db.session.commit()
    html = client.get("/admin/staff/").get_data(as_text=True)
    assert "<img src=x onerror" not in html
