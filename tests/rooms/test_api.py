"""Rooms over the API: a location's rooms, and room and maintenance writes."""

from __future__ import annotations

from tests.factories import LocationFactory, RoomFactory


def test_location_rooms_by_name(client, api_headers, session):
    location = LocationFactory(code="GRN")
    RoomFactory(location=location, name="B infusion", capacity=3)
    RoomFactory(location=location, name="A consult", kind="consult", capacity=1)
    RoomFactory(name="elsewhere")
    session.commit()
    response = client.get("/api/v1/locations/GRN/rooms", headers=api_headers("read"))
    assert response.status_code == 200
    assert [(r["name"], r["kind"], r["capacity"]) for r in response.json] == [
        ("A consult", "consult", 1),
        ("B infusion", "infusion", 3),
    ]
    assert response.json[0]["location"] == "GRN"


def test_rooms_of_unknown_location_is_404(client, api_headers):
    assert (
        client.get("/api/v1/locations/NOPE/rooms", headers=api_headers("read")).status_code == 404
    )


def test_admin_creates_room(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {"location": "GRN", "name": "Bay 1", "kind": "infusion", "capacity": 4}
    response = client.post("/api/v1/rooms", json=body, headers=api_headers("admin"))
    assert response.status_code == 201, response.json
    assert response.json["id"] and response.json["capacity"] == 4
    assert client.get(response.headers["Location"], headers=api_headers("read")).status_code == 200


def test_room_with_zero_chairs_or_bad_kind_is_422(client, api_headers, session):
    LocationFactory(code="GRN")
    session.commit()
    body = {"location": "GRN", "name": "Bay 1", "kind": "sauna", "capacity": 0}
    response = client.post("/api/v1/rooms", json=body, headers=api_headers("admin"))
    assert response.status_code == 422
    assert {"kind", "capacity"} <= set(response.json["errors"])


def test_duplicate_room_name_at_a_location_is_409(client, api_headers, session):
    RoomFactory(location=LocationFactory(code="GRN"), name="Bay 1")
    session.commit()
    body = {"location": "GRN", "name": "Bay 1", "kind": "infusion", "capacity": 2}
    response = client.post("/api/v1/rooms", json=body, headers=api_headers("admin"))
    assert response.status_code == 409 and response.json["code"] == "duplicate"


def test_patch_room_capacity_and_deactivate(client, api_headers, session):
    room = RoomFactory(capacity=2)
    session.commit()
    response = client.patch(
        f"/api/v1/rooms/{room.id}",
        json={"capacity": 5, "active": False},
        headers=api_headers("admin"),
    )
    assert response.status_code == 200, response.json
    assert (response.json["capacity"], response.json["active"]) == (5, False)


def test_patch_unknown_room_is_404(client, api_headers):
    response = client.patch("/api/v1/rooms/999", json={"capacity": 2}, headers=api_headers("admin"))
    assert response.status_code == 404


def test_admin_adds_room_closure_answered_in_utc(client, api_headers, session):
    room = RoomFactory()
    session.commit()
    body = {"starts_at": "2026-12-01T09:00:00-05:00", "ends_at": "2026-12-01T12:00:00-05:00"}
    response = client.post(
        f"/api/v1/rooms/{room.id}/closures", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 201, response.json
    assert response.json["starts_at"] == "2026-12-01T14:00:00Z"


def test_room_closure_with_naive_datetime_is_422(client, api_headers, session):
    room = RoomFactory()
    session.commit()
    body = {"starts_at": "2026-12-01T09:00:00", "ends_at": "2026-12-01T12:00:00-05:00"}
    response = client.post(
        f"/api/v1/rooms/{room.id}/closures", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 422 and "starts_at" in response.json["errors"]


def test_room_closure_ending_before_start_is_422(client, api_headers, session):
    room = RoomFactory()
    session.commit()
    body = {"starts_at": "2026-12-01T12:00:00Z", "ends_at": "2026-12-01T09:00:00Z"}
    response = client.post(
        f"/api/v1/rooms/{room.id}/closures", json=body, headers=api_headers("admin")
    )
    assert response.status_code == 422 and "ends_at" in response.json["errors"]
