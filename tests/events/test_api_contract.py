"""§11.3 contract beside events: ETag/If-Match, malformed JSON, the error catalogue, masked numbers, the docs page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import opsadmin.errors as errors
from opsadmin.api.errors import HTTP_CODES
from opsadmin.errors import CATALOGUE, DomainError
from tests.factories import CredentialFactory, StaffFactory

PROBLEM = "application/problem+json"
SOURCE = Path(errors.__file__).parent


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write")


def test_appointment_answers_carry_an_etag_that_if_match_checks(client, headers, booking_body):
    created = client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    tag = created.headers["ETag"]
    assert (
        tag.startswith('"')
        and client.get("/api/v1/appointments/BK-1", headers=headers).headers["ETag"] == tag
    )
    moved = client.put(
        "/api/v1/appointments/BK-1",
        json=booking_body(status="checked_in"),
        headers=headers | {"If-Match": tag},
    )
    assert moved.status_code == 200 and moved.headers["ETag"] != tag
    stale = client.patch(
        "/api/v1/appointments/BK-1",
        json={"status": "cancelled"},
        headers=headers | {"If-Match": tag},
    )
    assert stale.status_code == 412 and stale.mimetype == PROBLEM
    assert stale.get_json()["code"] == "precondition_failed"
    assert client.get("/api/v1/appointments/BK-1", headers=headers).get_json()["status"] == (
        "checked_in"
    )
    stale_put = client.put(
        "/api/v1/appointments/BK-1",
        json=booking_body(status="completed"),
        headers=headers | {"If-Match": tag},
    )
    assert stale_put.status_code == 412
    fresh = client.patch(
        "/api/v1/appointments/BK-1",
        json={"status": "cancelled"},
        headers=headers | {"If-Match": moved.headers["ETag"]},
    )
    assert fresh.status_code == 200
    assert (
        client.patch(
            "/api/v1/appointments/BK-1", json={"status": "cancelled"}, headers=headers
        ).status_code
        == 200
    )  # no If-Match: no precondition


def test_if_match_on_a_missing_appointment_is_412(client, headers, booking_body):
    response = client.put(
        "/api/v1/appointments/BK-9", json=booking_body(), headers=headers | {"If-Match": '"x"'}
    )
    assert response.status_code == 412


@pytest.mark.parametrize("body", ["{", '{"status": "booked",}', "nope", '{"a": 1}}'])
def test_malformed_json_is_a_400_problem(client, headers, body):
    response = client.patch(
        "/api/v1/appointments/BK-1", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["code"] == "malformed_json"
    assert "browser" not in problem["detail"]


def _codes_in_errors_module() -> set[str]:
    constants = {
        value
        for name, value in vars(errors).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+", value)
    }
    classes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, DomainError)
    }
    return constants | classes


def _codes_raised_anywhere() -> set[str]:
    found = set(HTTP_CODES.values())
    for path in SOURCE.rglob("*.py"):
        found |= set(re.findall(r'\bcode="([a-z_]+)"', path.read_text()))
    return found


def test_error_catalogue_page_lists_every_code(client):
    page = client.get("/api/v1/docs/errors")
    assert page.status_code == 200
    catalogued = {entry.code for entry in CATALOGUE}
    assert _codes_in_errors_module() <= catalogued
    assert _codes_raised_anywhere() <= catalogued
    listed = set(re.findall(r'<tr id="([a-z_]+)">', page.text))
    assert listed == catalogued
    for entry in CATALOGUE:
        row = page.text.split(f'<tr id="{entry.code}">')[1].split("</tr>")[0]
        assert f"<td>{entry.status}</td>" in row and entry.meaning.split(";")[0][:20] in row


def test_every_error_response_in_openapi_is_problem_json_with_examples(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            for status, response in operation["responses"].items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response["content"]["application/problem+json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, (path, status)
                assert content["examples"], (path, method, status)
                for code, example in content["examples"].items():
                    assert example["value"]["code"] == code
                    assert example["value"]["status"] == int(status)
    put = spec["paths"]["/api/v1/appointments/{external_id}"]["put"]["responses"]
    assert "room_at_capacity" in put["409"]["content"]["application/problem+json"]["examples"]
    assert "precondition_failed" in put["412"]["content"]["application/problem+json"]["examples"]


def test_docs_page_shows_no_raw_markup_or_raw_type_lists(client):
    page = client.get("/api/v1/docs").text
    assert "``" not in page and ":func:" not in page and ":class:" not in page
    assert "[&#39;" not in page and "['" not in page
    assert "integer or null" in page
    assert "<code>from</code>" in page


def test_credential_and_registration_numbers_are_masked_without_admin(client, api_headers, chain):
    staff = StaffFactory(name="Dr Mask", locations=[chain.grn])
    CredentialFactory(staff=staff, number="MD-99881234")
    from opsadmin.extensions import db

    db.session.commit()
    reader = client.get(f"/api/v1/staff/{staff.id}", headers=api_headers("read")).get_json()
    assert [c["number"] for c in reader["credentials"]] == ["****1234"]
    admin = client.get(f"/api/v1/staff/{staff.id}", headers=api_headers("read", "admin")).get_json()
    assert [c["number"] for c in admin["credentials"]] == ["MD-99881234"]
    location = client.get("/api/v1/locations/GRN", headers=api_headers("read")).get_json()
    numbers = [r["number"] for r in location["registrations"]]
    assert numbers and all(n.startswith("****") and len(n) <= 8 for n in numbers)
    full = client.get("/api/v1/locations/GRN", headers=api_headers("read", "admin")).get_json()
    assert all(not r["number"].startswith("****") for r in full["registrations"])


def test_openapi_declares_the_headers_clients_read(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    created = spec["paths"]["/api/v1/referrals"]["post"]["responses"]["201"]
    assert created["headers"]["Idempotent-Replayed"]["schema"] == {
        "type": "string",
        "enum": ["true"],
    }
    paging = spec["components"]["headers"]["PAGINATION"]["schema"]
    assert paging["contentSchema"] == {"$ref": "#/components/schemas/Pagination"}
    assert "total" in spec["components"]["schemas"]["Pagination"]["properties"]
    item = spec["paths"]["/api/v1/appointments/{external_id}"]
    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert any(p["name"] == "If-Match" for p in item["patch"]["parameters"])
    # The PATCH body's component no longer clashes with the name of Appointment.status's enum.
    assert "AppointmentStatusChange" in spec["components"]["schemas"]
    assert "AppointmentStatus" not in spec["components"]["schemas"]
