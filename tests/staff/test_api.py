"""Staff over the API: who works where, who is eligible, and HR/credentialing writes."""

from __future__ import annotations

import datetime as dt

from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    TODAY,
    CredentialFactory,
    LocationFactory,
    RegionFactory,
    StaffFactory,
    licensed_clinician,
)


def test_staff_filter_by_location_and_role(client, api_headers, session):
    grn, chi = LocationFactory(code="GRN"), LocationFactory(code="CHI")
    StaffFactory(name="Ann", role="physician", locations=[grn])
    StaffFactory(name="Bob", role="registered_nurse", locations=[grn, chi])
    StaffFactory(name="Cy", role="physician", locations=[chi])
    session.commit()
    headers = api_headers("read")
    names = lambda url: [s["name"] for s in client.get(url, headers=headers).json]  # noqa: E731
    assert names("/api/v1/staff") == ["Ann", "Bob", "Cy"]
    assert names("/api/v1/staff?location=GRN") == ["Ann", "Bob"]
    assert names("/api/v1/staff?location=GRN&role=physician") == ["Ann"]


def test_staff_eligible_on_lists_only_eligible_clinicians(client, api_headers, session):
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN")
    licensed_clinician([grn], name="Licensed")
    StaffFactory(name="Unlicensed", locations=[grn])
    session.commit()
    on = (TODAY + dt.timedelta(days=1)).isoformat()
    response = client.get(
        f"/api/v1/staff?location=GRN&eligible_on={on}&kind=infusion", headers=api_headers("read")
    )
    assert response.status_code == 200
    assert [s["name"] for s in response.json] == ["Licensed"]


def test_eligible_on_without_kind_and_location_is_422(client, api_headers):
    response = client.get("/api/v1/staff?eligible_on=2026-12-01", headers=api_headers("read"))
    assert response.status_code == 422 and "kind" in response.json["errors"]


def test_staff_detail_shows_credentials_with_status(client, api_headers, session):
    staff = StaffFactory(name="Ann", locations=[LocationFactory(code="GRN")])
    CredentialFactory(staff=staff, kind="acls", state=None, expires_on=TODAY - dt.timedelta(days=1))
    CredentialFactory(staff=staff, kind="state_license", verified_on=None)
    session.commit()
    response = client.get(f"/api/v1/staff/{staff.id}", headers=api_headers("read"))
    assert response.status_code == 200
    assert response.json["locations"] == ["GRN"]
    statuses = {c["kind"]: c["status"] for c in response.json["credentials"]}
    assert statuses == {"acls": "expired", "state_license": "unverified"}


def test_unknown_staff_is_404(client, api_headers):
    assert client.get("/api/v1/staff/999", headers=api_headers("read")).status_code == 404


def test_admin_creates_staff_member(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {
        "name": "Dr New",
        "email": "new@clinic.example.org",
        "role": "crna",
        "locations": ["GRN"],
    }
    response = client.post("/api/v1/staff", json=body, headers=api_headers("admin"))
    assert response.status_code == 201, response.json
    assert response.json["id"] and response.json["locations"] == ["GRN"]
    assert response.headers["Location"].endswith(f"/api/v1/staff/{response.json['id']}")


def test_staff_with_bad_email_or_role_is_422(client, api_headers):
    body = {"name": "X", "email": "not-an-email", "role": "physician"}
    response = client.post("/api/v1/staff", json=body, headers=api_headers("admin"))
    assert response.status_code == 422 and "email" in response.json["errors"]
    response = client.post(
        "/api/v1/staff", json=body | {"role": "wizard"}, headers=api_headers("admin")
    )
    assert response.status_code == 422 and "role" in response.json["errors"]


def test_duplicate_staff_email_is_409(client, api_headers, session):
    StaffFactory(email="ann@clinic.example.org")
    session.commit()
    body = {"name": "Ann 2", "email": "ann@clinic.example.org", "role": "physician"}
    response = client.post("/api/v1/staff", json=body, headers=api_headers("admin"))
    assert response.status_code == 409 and response.json["code"] == "duplicate"


def test_patch_staff_replaces_locations(client, api_headers, session):
    RegionFactory(code="IN")
    staff = StaffFactory(locations=[LocationFactory(code="GRN")])
    LocationFactory(code="IND")
    session.commit()
    response = client.patch(
        f"/api/v1/staff/{staff.id}", json={"locations": ["IND"]}, headers=api_headers("admin")
    )
    assert response.status_code == 200, response.json
    assert response.json["locations"] == ["IND"]


def test_admin_adds_credential(client, api_headers, session):
    staff = StaffFactory()
    session.commit()
    body = {
        "kind": "state_license",
        "number": "IN-123",
        "state": "IN",
        "issued_on": "2025-01-01",
        "expires_on": "2027-01-01",
        "verified_on": "2025-01-05",
    }
    response = client.post(
        f"/api/v1/staff/{staff.id}/credentials", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 201, response.json
    assert response.json["id"] and response.json["status"] in ("valid", "expiring", "expired")


def test_credential_expiring_before_issue_is_422(client, api_headers, session):
    staff = StaffFactory()
    session.commit()
    body = {
        "kind": "acls",
        "number": "A-1",
        "issued_on": "2025-01-01",
        "expires_on": "2024-01-01",
    }
    response = client.post(
        f"/api/v1/staff/{staff.id}/credentials", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 422 and "expires_on" in response.json["errors"]
