"""Hostile input never reaches a 500 (issue 11, problems 3 and 9; acceptance 3).

First the reproductions, each answered 422 (or 400 for a body that is not JSON), then a
hand-written hostile set sent to every operation of the OpenAPI document: deep nesting, lone
surrogates and NULs in every text, repeated keys, numbers no column holds, odd weeks and dates.
"""

from __future__ import annotations

import json

import pytest

from opsadmin.bookings.models import Appointment
from opsadmin.extensions import db
from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
    licensed_clinician,
)

PROBLEM = "application/problem+json"


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def send(client, method: str, url: str, body: str, headers: dict):
    return client.open(
        url, method=method, data=body.encode("utf-8", "surrogatepass"),
        content_type="application/json", headers=headers,
    )  # fmt: skip


def referral_body(**changes) -> dict:
    body = {
        "patient_ref": "P-20931",
        "indication": "migraine",
        "referring_provider": {"name": "Dr N", "npi": "1234567893", "practice": "P"},
        "received_on": "2026-11-20",
        "consult_location": "GRN",
        "treatment_location": "GRN",
        "planned_sessions": 6,
    }
    body.update(changes)
    return body


@pytest.fixture
def site(session):
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN", region=RegionFactory(code="IN"))
    session.commit()
    return grn


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write", "admin")


def assert_422(response, *path: str) -> dict:
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    errors = response.json["errors"]
    node = errors
    for key in path:
        assert key in node, errors
        node = node[key]
    return errors


# -- the reproductions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method,url", [("PUT", "/api/v1/appointments/BK-1"), ("POST", "/api/v1/referrals")]
)
def test_json_nested_a_thousand_deep_is_422(client, site, headers, method, url):
    assert_422(send(client, method, url, deep(1000), headers), "_schema")


def test_json_nested_65_deep_is_422_under_its_field(client, site, headers):
    assert_422(send(client, "POST", "/api/v1/referrals", deep(65), headers), "a")


def test_lone_surrogate_in_region_name_is_422_under_name(client, headers):
    body = json.dumps({"code": "XX", "name": "x\ud800"})
    assert_422(send(client, "POST", "/api/v1/regions", body, headers), "name")


def test_lone_surrogate_in_referring_provider_is_422_under_its_path(client, site, headers):
    body = referral_body()
    body["referring_provider"]["name"] = "Dr \udc00"
    response = send(client, "POST", "/api/v1/referrals", json.dumps(body), headers)
    assert_422(response, "referring_provider", "name")


def test_lone_surrogate_in_transition_reason_is_422_under_reason(client, site, headers):
    referral = ReferralFactory(consult_location=site)
    db.session.commit()
    body = json.dumps({"to": "consult_scheduled", "reason": "because \ud83d"})
    url = f"/api/v1/referrals/{referral.id}/transitions"
    assert_422(send(client, "POST", url, body, headers), "reason")


@pytest.mark.parametrize("week", ["9999-W52", "0001-W01"])
def test_week_far_outside_any_report_is_422(client, site, headers, week):
    response = client.get(f"/api/v1/utilisation?week={week}&location=GRN", headers=headers)
    assert_422(response, "week")


def test_repeated_key_is_422_and_changes_nothing(client, site, headers):
    appointment = AppointmentFactory(room=RoomFactory(location=site))
    db.session.commit()
    body = '{"status": "booked", "status": "cancelled"}'
    url = f"/api/v1/appointments/{appointment.external_id}"
    assert_422(send(client, "PATCH", url, body, headers), "status")
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "booked"


def test_body_that_is_not_json_is_400_malformed_json(client, headers):
    response = send(client, "POST", "/api/v1/regions", '{"code": "XX",', headers)
    assert response.status_code == 400 and response.json["code"] == "malformed_json"


def test_valid_surrogate_pair_is_ordinary_text(client, headers):
    body = json.dumps({"code": "XX", "name": "Clinic \U0001f600"})
    assert send(client, "POST", "/api/v1/regions", body, headers).status_code == 201


# -- every operation -----------------------------------------------------------------------------
HOSTILE_BODIES = [
    deep(70),
    deep(5000),
    "[" * 50000 + "]" * 50000,
    json.dumps({"name": "\ud800", "code": "\udfff", "reason": "a\x00b", "to": "\ud800"}),
    '{"code": "A", "code": "B", "name": "n", "name": "m"}',
    json.dumps({"capacity": 10**30, "room_id": 10**30, "staff_id": -(10**30)}),
    '{"capacity": 1e999, "planned_sessions": ' + "9" * 5000 + "}",
    '{"capacity": NaN}',
    '"\\ud800"',
    "[]",
    "null",
    '{"to": "approved", "screening": {"flags": [' + '"\\ud800",' * 50 + '"x"]}}',
    "\xff\xfe",
]
HOSTILE_VALUES = [
    "9999-W52", "0001-W01", "2026-W99", "9" * 40, "-9" * 20, "9999-12-31", "0001-01-01",
    "2026-02-30", "%00", "%ED%A0%80", "1e999", "NaN",
]  # fmt: skip


def operations(client) -> list[tuple[str, str, list[str]]]:
    spec = client.get("/api/v1/openapi.json").json
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                query = [
                    p["name"] for p in operation.get("parameters", []) + item.get("parameters", [])
                    if p.get("in") == "query"
                ]  # fmt: skip
                found.append((method.upper(), path, query))
    return found


def concrete(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_no_hostile_input_to_any_operation_is_a_server_error(client, site, headers):
    room = RoomFactory(location=site)
    staff = licensed_clinician([site])
    referral = ReferralFactory(consult_location=site)
    appointment = AppointmentFactory(room=room, staff=staff)
    db.session.commit()
    ids = {
        "code": "GRN", "room_id": str(room.id), "staff_id": str(staff.id),
        "referral_id": str(referral.id), "external_id": appointment.external_id, "id": "1",
    }  # fmt: skip
    failures = []
    ops = operations(client)
    assert len(ops) >= 20
    for method, path, query in ops:
        url = concrete(path, ids)
        attempts = []
        if method in ("POST", "PUT", "PATCH"):
            attempts += [(url, body) for body in HOSTILE_BODIES]
        for name in query:
            attempts += [(f"{url}?{name}={value}", "") for value in HOSTILE_VALUES]
        for target, body in attempts:
            response = send(client, method, target, body, headers) if body else client.open(
                target, method=method, headers=headers
            )  # fmt: skip
            if (
                response.status_code >= 500
                or response.mimetype != PROBLEM
                and (response.status_code >= 400)
            ):
                failures.append(f"{method} {target} {body[:60]!r} → {response.status_code}")
    assert not failures, "\n".join(failures[:30])
