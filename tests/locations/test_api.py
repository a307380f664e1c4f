"""Regions and locations over the API: reads for the booking system, writes for onboarding."""

from __future__ import annotations

import json

import sqlalchemy as sa

from opsadmin.locations.models import Location
from tests.factories import LocationFactory, RegionFactory

NEW_LOCATION = {
    "code": "CHI",
    "name": "Chicago Loop",
    "region": "IL",
    "timezone": "America/Chicago",
    "address": {"line1": "1 Loop Pl", "city": "Chicago", "state": "IL", "postal_code": "60601"},
    "phone": "+1 312 555 0100",
    "opening_hours": [
        {"weekday": 0, "opens": "08:00", "closes": "12:00"},
        {"weekday": 0, "opens": "13:00", "closes": "18:00"},
    ],
}


def test_regions_list_is_paginated_by_code(client, api_headers, session):
    RegionFactory(code="IN", name="Indiana")
    RegionFactory(code="IL", name="Illinois")
    session.commit()
    response = client.get("/api/v1/regions", headers=api_headers("read"))
    assert response.status_code == 200
    assert [r["code"] for r in response.json] == ["IL", "IN"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_admin_creates_region(client, api_headers):
    body = {"code": "OH", "name": "Ohio", "lead_emails": ["lead@clinic.example.org"]}
    response = client.post("/api/v1/regions", json=body, headers=api_headers("admin"))
    assert response.status_code == 201
    assert response.json["id"] and response.json["lead_emails"] == body["lead_emails"]


def test_duplicate_region_code_is_409_duplicate(client, api_headers, session):
    RegionFactory(code="OH")
    session.commit()
    response = client.post(
        "/api/v1/regions", json={"code": "OH", "name": "Ohio"}, headers=api_headers("admin")
    )
    assert response.status_code == 409 and response.json["code"] == "duplicate"


def test_region_with_bad_lead_email_is_422(client, api_headers):
    body = {"code": "OH", "name": "Ohio", "lead_emails": ["not-an-address"]}
    response = client.post("/api/v1/regions", json=body, headers=api_headers("admin"))
    assert response.status_code == 422 and "lead_emails" in response.json["errors"]


def test_locations_filter_by_region_and_active(client, api_headers, session):
    LocationFactory(code="GRN")
    LocationFactory(code="OLD", active=False)
    LocationFactory(code="CHI", region=RegionFactory(code="IL"), state="IL")
    session.commit()
    headers = api_headers("read")
    codes = lambda url: [x["code"] for x in client.get(url, headers=headers).json]  # noqa: E731
    assert codes("/api/v1/locations") == ["CHI", "GRN", "OLD"]
    assert codes("/api/v1/locations?region=IN") == ["GRN", "OLD"]
    assert codes("/api/v1/locations?region=IN&active=true") == ["GRN"]


def test_location_detail_shows_address_hours_and_registrations(client, api_headers, session):
    LocationFactory(code="GRN", hours=[(0, "08:00", "18:00")])
    session.commit()
    response = client.get("/api/v1/locations/GRN", headers=api_headers("read"))
    assert response.status_code == 200
    body = response.json
    assert body["region"] == "IN" and body["timezone"] == "America/Indiana/Indianapolis"
    assert body["address"] == {
        "line1": "1 Main St",
        "city": "Greencastle",
        "state": "IN",
        "postal_code": "46135",
    }
    assert body["opening_hours"] == [{"weekday": 0, "opens": "08:00", "closes": "18:00"}]
    assert body["registrations"][0]["kind"] == "dea_registration"


def test_unknown_location_is_404_problem(client, api_headers):
    response = client.get("/api/v1/locations/NOPE", headers=api_headers("read"))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json" and response.json["code"] == "not_found"


def test_location_list_query_count_does_not_grow_with_rows(app, client, api_headers, session):
    for n in range(3):
        LocationFactory(code=f"A{n}")
    session.commit()
    headers = api_headers("read")
    client.get("/api/v1/locations", headers=headers)  # the key's first use also records it
    small = count_queries(app, lambda: client.get("/api/v1/locations", headers=headers))
    for n in range(10):
        LocationFactory(code=f"B{n}")
    session.commit()
    large = count_queries(app, lambda: client.get("/api/v1/locations", headers=headers))
    assert large == small


def count_queries(app, call) -> int:
    """How many SELECTs ``call`` makes (BEGINs vary with the connection's state)."""
    from opsadmin.extensions import db

    seen = []

    def before(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        assert call().status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    return len(seen)


def test_admin_creates_location_with_address_and_hours(client, api_headers, session):
    RegionFactory(code="IL", name="Illinois")
    session.commit()
    response = client.post("/api/v1/locations", json=NEW_LOCATION, headers=api_headers("admin"))
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith("/api/v1/locations/CHI")
    assert response.json["id"] and response.json["address"]["city"] == "Chicago"
    assert len(response.json["opening_hours"]) == 2
    assert session.scalar(sa.select(Location).where(Location.code == "CHI")).state == "IL"


def test_location_rules_come_from_the_service(client, api_headers, session):
    RegionFactory(code="IL")
    session.commit()
    body = NEW_LOCATION | {
        "timezone": "Mars/Olympus",
        "address": NEW_LOCATION["address"] | {"state": "ZZ"},
        "opening_hours": [
            {"weekday": 0, "opens": "08:00", "closes": "12:00"},
            {"weekday": 0, "opens": "11:00", "closes": "18:00"},
        ],
    }
    response = client.post("/api/v1/locations", json=body, headers=api_headers("admin"))
    assert response.status_code == 422
    assert {"timezone", "state", "opening_hours"} <= set(response.json["errors"])


def test_location_with_unknown_address_field_is_422(client, api_headers):
    body = NEW_LOCATION | {"address": NEW_LOCATION["address"] | {"county": "Putnam"}}
    response = client.post("/api/v1/locations", json=body, headers=api_headers("admin"))
    assert response.status_code == 422


def test_patch_location_changes_only_given_fields(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    response = client.patch(
        "/api/v1/locations/GRN",
        json={"phone": "+1 765 555 0199", "address": {"city": "Cloverdale"}},
        headers=api_headers("admin"),
    )
    assert response.status_code == 200, response.json
    assert response.json["phone"] == "+1 765 555 0199"
    assert response.json["address"]["city"] == "Cloverdale"
    assert response.json["address"]["line1"] == "1 Main St"


def test_patch_opening_hours_replaces_the_week(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    hours = [{"weekday": 2, "opens": "09:00", "closes": "17:00"}]
    response = client.patch(
        "/api/v1/locations/GRN", json={"opening_hours": hours}, headers=api_headers("admin")
    )
    assert response.status_code == 200 and response.json["opening_hours"] == hours


def test_admin_adds_closure(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {"starts_on": "2026-12-24", "ends_on": "2026-12-26", "reason": "Christmas"}
    response = client.post(
        "/api/v1/locations/GRN/closures", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 201 and response.json["id"]
    assert response.json["starts_on"] == "2026-12-24"


def test_closure_ending_before_it_starts_is_422(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {"starts_on": "2026-12-26", "ends_on": "2026-12-24"}
    response = client.post(
        "/api/v1/locations/GRN/closures", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 422 and "ends_on" in response.json["errors"]


def test_admin_adds_state_csr_registration(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {"kind": "state_csr", "number": "CSR-77", "state": "IN", "expires_on": "2028-01-31"}
    response = client.post(
        "/api/v1/locations/GRN/registrations", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 201 and response.json["kind"] == "state_csr"


def test_registration_with_bad_kind_is_422(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {"kind": "fda", "number": "X", "state": "IN", "expires_on": "2028-01-31"}
    response = client.post(
        "/api/v1/locations/GRN/registrations", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 422 and "kind" in response.json["errors"]


def test_master_data_writes_need_admin_scope(client, api_headers):
    response = client.post(
        "/api/v1/regions", json={"code": "OH", "name": "Ohio"}, headers=api_headers("read", "write")
    )
    assert response.status_code == 403 and response.json["code"] == "forbidden"


def test_master_data_write_is_audited_as_the_key(client, api_headers, session):
    from opsadmin.audit.models import AuditEvent

    client.post(
        "/api/v1/regions",
        json={"code": "OH", "name": "Ohio"},
        headers=api_headers("admin", name="hr"),
    )
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.entity == "Region"))
    assert event.actor_label == "api-key:hr" and event.action == "create"
