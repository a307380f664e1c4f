"""GET /api/v1/utilisation (DESIGN §6)."""

from __future__ import annotations

import pytest

from tests.reports.fixtures import WEEK, build_week


@pytest.fixture
def week(session):
    site = build_week()
    session.commit()
    return site


def test_location_utilisation_has_the_contract_fields(client, api_headers, week):
    response = client.get(
        f"/api/v1/utilisation?week={WEEK}&location=GRN", headers=api_headers("read")
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "week",
        "available_minutes",
        "booked_minutes",
        "utilisation",
        "no_show_rate",
        "rooms",
    }
    assert body["week"] == WEEK
    assert body["available_minutes"] == 10440
    assert body["booked_minutes"] == 420
    assert body["no_show_rate"] == 0.25
    assert {r["room_id"] for r in body["rooms"]} == {week.room_a.id, week.room_b.id}
    assert set(body["rooms"][0]) == {
        "room_id",
        "available_minutes",
        "booked_minutes",
        "utilisation",
    }


def test_region_utilisation_sums_its_locations(client, api_headers, week):
    response = client.get(f"/api/v1/utilisation?week={WEEK}&region=IN", headers=api_headers("read"))
    assert response.status_code == 200
    assert response.get_json()["booked_minutes"] == 420


def test_needs_a_key(client, week):
    assert client.get(f"/api/v1/utilisation?week={WEEK}&region=IN").status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "week=2026-49&region=IN",
        "week=2026-W60&region=IN",
        f"week={WEEK}",
        f"week={WEEK}&region=IN&location=GRN",
    ],
)
def test_bad_queries_are_422_problems(client, api_headers, week, query):
    response = client.get(f"/api/v1/utilisation?{query}", headers=api_headers("read"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_unknown_location_is_404(client, api_headers, week):
    response = client.get(
        f"/api/v1/utilisation?week={WEEK}&location=NOPE", headers=api_headers("read")
    )
    assert response.status_code == 404
