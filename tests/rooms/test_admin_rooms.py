"""The console's room and room-closure forms (issue 2 acceptance 5 and 6)."""

from __future__ import annotations

from opsadmin.extensions import db
from opsadmin.rooms.models import Room, RoomClosure
from tests.console_forms import count, events, page_text, sign_in
from tests.factories import AppointmentFactory, LocationFactory, RoomFactory


def test_room_capacity_zero_refused_on_the_form_and_nothing_saved(client, auth):
    sign_in(auth)
    location = LocationFactory()
    db.session.commit()
    form = {"location": str(location.id), "name": "Bay", "kind": "infusion", "capacity": "0"}
    response = client.post("/admin/rooms/new/", data=form)
    assert response.status_code == 200
    assert "Capacity must be a whole number of chairs, at least 1." in page_text(response)
    assert count(Room) == 0
    assert events("Room") == []


def test_room_created_and_edited_through_the_console_is_audited(client, auth):
    user = sign_in(auth)
    location = LocationFactory()
    db.session.commit()
    form = {"location": str(location.id), "name": "Bay", "kind": "infusion", "capacity": "2"}
    client.post("/admin/rooms/new/", data=form)
    room = db.session.scalars(db.select(Room)).one()
    client.post(f"/admin/rooms/edit/?id={room.id}", data={**form, "capacity": "4"})
    create, update = events("Room")
    assert (create.action, create.actor_id) == ("create", user.id)
    assert (update.action, update.changes["capacity"]) == ("update", [2, 4])


def test_room_with_appointments_is_not_deleted(client, auth):
    sign_in(auth)
    room = AppointmentFactory().room
    db.session.commit()
    response = client.post("/admin/rooms/delete/", data={"id": str(room.id)}, follow_redirects=True)
    assert "deactivate it instead" in page_text(response)
    assert count(Room) == 1


def test_room_closure_ending_before_it_starts_refused(client, auth):
    sign_in(auth)
    room = RoomFactory()
    db.session.commit()
    form = {
        "room": str(room.id),
        "starts_at": "2026-12-01 15:00:00",
        "ends_at": "2026-12-01 14:00:00",
        "reason": "pump",
    }
    response = client.post("/admin/room_closures/new/", data=form)
    assert "The closure must end after it starts." in page_text(response)
    assert count(RoomClosure) == 0


def test_room_closure_saved_as_utc(client, auth):
    sign_in(auth)
    room = RoomFactory()
    db.session.commit()
    form = {
        "room": str(room.id),
        "starts_at": "2026-12-01 14:00:00",
        "ends_at": "2026-12-01 15:00:00",
    }
    client.post("/admin/room_closures/new/", data=form)
    closure = db.session.scalars(db.select(RoomClosure)).one()
    assert closure.starts_at.isoformat() == "2026-12-01T14:00:00+00:00"
