"""The referral endpoints of DESIGN §6: create, read with events, list with filters, transitions."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.db import utcnow
from opsadmin.referrals.models import Referral
from tests.factories import LocationFactory, ReferralFactory
from tests.referrals.conftest import referral_body


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write", name="booking")


def create(client, headers, **overrides):
    response = client.post("/api/v1/referrals", json=referral_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def move(client, headers, referral_id, **body):
    return client.post(f"/api/v1/referrals/{referral_id}/transitions", json=body, headers=headers)


def count_referrals(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count(Referral.id)))


# -- create --------------------------------------------------------------------------------------


def test_create_answers_201_with_location_and_the_whole_referral(client, chain, api_headers):
    headers = api_headers("read", "write", name="booking")
    response = client.post("/api/v1/referrals", json=referral_body(), headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/referrals/{body['id']}")
    assert body["status"] == "received"
    assert body["referring_provider"] == {
        "name": "Dr Neuro Logist",
        "npi": "1234567893",
        "practice": "Putnam Neurology",
    }
    assert (body["consult_location"], body["treatment_location"]) == ("GRN", "IND")
    assert (body["planned_sessions"], body["sessions_completed"]) == (6, 0)
    assert body["follow_up_due_on"] is None
    [event] = body["events"]
    assert (event["from"], event["to"]) == (None, "received")
    assert event["actor"] == {
        "type": "api_key",
        "id": api_headers.last_key.id,
        "label": "api-key:booking",
    }
    assert event["at"].endswith("Z")


def test_planned_sessions_default_to_six(client, chain, headers):
    body = referral_body()
    del body["planned_sessions"]
    response = client.post("/api/v1/referrals", json=body, headers=headers)
    assert response.get_json()["planned_sessions"] == 6


def test_bad_npi_is_422_under_its_field(client, chain, headers, session):
    provider = {"name": "Dr X", "npi": "1234567890", "practice": ""}
    response = client.post(
        "/api/v1/referrals", json=referral_body(referring_provider=provider), headers=headers
    )
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "npi" in response.get_json()["errors"]["referring_provider"]
    assert count_referrals(session) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"indication": "anxiety"},
        {"planned_sessions": 0},
        {"received_on": "20.11.2026"},
        {"nickname": "Bob"},
        {"consult_location": "XXX"},
    ],
)
def test_invalid_referral_is_422(client, chain, headers, overrides, session):
    response = client.post("/api/v1/referrals", json=referral_body(**overrides), headers=headers)
    assert response.status_code == 422
    assert count_referrals(session) == 0


def test_inactive_treatment_site_is_refused(client, chain, headers, session):
    chain.ind.active = False
    session.commit()
    response = client.post("/api/v1/referrals", json=referral_body(), headers=headers)
    assert response.status_code == 422
    assert "treatment_location" in response.get_json()["errors"]


def test_create_needs_the_write_scope(client, chain, api_headers):
    response = client.post("/api/v1/referrals", json=referral_body(), headers=api_headers("read"))
    assert response.status_code == 403


def test_create_needs_a_key(client, chain):
    assert client.post("/api/v1/referrals", json=referral_body()).status_code == 401


# -- read ----------------------------------------------------------------------------------------


def test_read_gives_events_and_audits_the_view(client, chain, headers, session, api_headers):
    created = create(client, headers)
    reader = api_headers("read", name="reader")
    response = client.get(f"/api/v1/referrals/{created['id']}", headers=reader)
    assert response.status_code == 200
    assert response.get_json()["events"] == created["events"]
    session.rollback()
    views = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.entity == "Referral")
    ).all()
    assert [(v.entity_id, v.actor_type, v.actor_id) for v in views] == [
        (str(created["id"]), "api_key", api_headers.last_key.id)
    ]


def test_unknown_referral_is_404(client, chain, headers):
    response = client.get("/api/v1/referrals/999", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_read_needs_only_the_read_scope(client, chain, headers, api_headers):
    created = create(client, headers)
    response = client.get(f"/api/v1/referrals/{created['id']}", headers=api_headers("read"))
    assert response.status_code == 200


# -- list ----------------------------------------------------------------------------------------


@pytest.fixture
def listed(chain, session):
    other = LocationFactory(code="BLM")
    referrals = {
        "fresh": ReferralFactory(consult_location=chain.grn, treatment_location=chain.ind),
        "stalled": ReferralFactory(
            consult_location=chain.grn,
            treatment_location=chain.grn,
            status_changed_at=utcnow() - dt.timedelta(days=9),
        ),
        "approved": ReferralFactory(
            consult_location=other, status="approved", indication="depression"
        ),
    }
    session.commit()
    return {name: r.id for name, r in referrals.items()}


def listed_ids(client, headers, query="") -> set[int]:
    response = client.get(f"/api/v1/referrals{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {r["id"] for r in response.get_json()}


def test_list_filters(client, headers, listed):
    assert listed_ids(client, headers) == set(listed.values())
    assert listed_ids(client, headers, "?status=approved") == {listed["approved"]}
    assert listed_ids(client, headers, "?indication=depression") == {listed["approved"]}
    assert listed_ids(client, headers, "?location=IND") == {listed["fresh"]}
    assert listed_ids(client, headers, "?location=GRN") == {listed["fresh"], listed["stalled"]}
    assert listed_ids(client, headers, "?stalled=true") == {listed["stalled"]}
    assert listed_ids(client, headers, "?stalled=false&location=GRN") == {listed["fresh"]}


def test_list_is_paginated_without_events(client, headers, listed):
    response = client.get("/api/v1/referrals?page_size=2", headers=headers)
    assert len(response.get_json()) == 2
    assert "X-Pagination" in response.headers
    assert "events" not in response.get_json()[0]


def test_list_with_bad_status_is_422(client, headers, listed):
    assert client.get("/api/v1/referrals?status=lost", headers=headers).status_code == 422


# -- transitions ---------------------------------------------------------------------------------


def test_invalid_transition_is_409_and_changes_nothing(client, chain, headers):
    created = create(client, headers)
    response = move(client, headers, created["id"], to="in_treatment", reason="skip ahead")
    assert response.status_code == 409
    assert response.get_json()["code"] == "invalid_transition"
    after = client.get(f"/api/v1/referrals/{created['id']}", headers=headers).get_json()
    assert after["status"] == "received"
    assert after["events"] == created["events"]
    assert after["status_changed_at"] == created["status_changed_at"]


def test_approving_a_received_referral_is_409_not_422(client, chain, headers):
    created = create(client, headers)
    response = move(client, headers, created["id"], to="approved")
    assert response.status_code == 409


def test_approving_with_a_flag_and_no_override_is_422(client, chain, headers, session):
    referral = ReferralFactory(consult_location=chain.grn, status="consulted")
    session.commit()
    screening = {"flags": ["pregnancy"], "decided_by": chain.physician.id}
    response = move(client, headers, referral.id, to="approved", screening=screening)
    assert response.status_code == 422
    assert "override" in response.get_json()["errors"]["screening"][0]
    session.rollback()
    assert session.get(Referral, referral.id).status == "consulted"


def test_approving_with_screening_records_it(client, chain, headers, session):
    referral = ReferralFactory(consult_location=chain.grn, status="consulted")
    session.commit()
    screening = {
        "flags": ["raised_intraocular_pressure"],
        "decided_by": chain.physician.id,
        "override": "Ophthalmology cleared",
    }
    response = move(client, headers, referral.id, to="approved", reason="ok", screening=screening)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "approved"
    assert body["events"][-1]["from"] == "consulted"
    assert body["screenings"][0]["flags"] == ["raised_intraocular_pressure"]
    assert body["screenings"][0]["decided_by"] == chain.physician.id


def test_unknown_flag_is_422_under_screening(client, chain, headers, session):
    referral = ReferralFactory(consult_location=chain.grn, status="consulted")
    session.commit()
    screening = {"flags": ["anxiety"], "decided_by": chain.physician.id}
    response = move(client, headers, referral.id, to="approved", screening=screening)
    assert response.status_code == 422
    assert "screening" in response.get_json()["errors"]


def test_withdrawal_with_reason(client, chain, headers):
    created = create(client, headers)
    response = move(client, headers, created["id"], to="withdrawn", reason="moved to Ohio")
    assert response.status_code == 200
    assert response.get_json()["events"][-1]["reason"] == "moved to Ohio"


def test_transition_of_unknown_referral_is_404(client, chain, headers):
    assert move(client, headers, 999, to="withdrawn").status_code == 404


def test_transition_needs_the_write_scope(client, chain, headers, api_headers):
    created = create(client, headers)
    response = move(client, api_headers("read"), created["id"], to="withdrawn")
    assert response.status_code == 403


def test_referral_endpoints_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/referrals"])
    assert "get" in paths["/api/v1/referrals/{referral_id}"]
    post = paths["/api/v1/referrals"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post.get("parameters", []))
