"""Master-data rules of rooms and room closures."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.errors import Conflict, InvalidInput
from opsadmin.rooms import service
from opsadmin.rooms.models import Room
from tests.factories import AppointmentFactory, LocationFactory, RoomFactory

START = dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)


def test_create_room_at_location_code(session):
    LocationFactory(code="GRN")
    room = service.create_room(
        session, location="GRN", name="Chair bay", kind="infusion", capacity=4
    )
    assert room.location.code == "GRN"


@pytest.mark.parametrize("capacity", [0, -1, None])
def test_room_capacity_must_be_at_least_one(session, capacity):
    location = LocationFactory()
    with pytest.raises(InvalidInput) as error:
        service.create_room(
            session, location=location, name="A", kind="infusion", capacity=capacity
        )
    assert "at least 1" in error.value.errors["capacity"][0]
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Room)) == 0
    assert session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "Room")).all() == []


def test_room_kind_must_be_known(session):
    with pytest.raises(InvalidInput) as error:
        service.create_room(
            session, location=LocationFactory(), name="A", kind="lounge", capacity=1
        )
    assert "kind" in error.value.errors


def test_room_name_unique_per_location(session):
    room = RoomFactory(name="Bay 1")
    with pytest.raises(Conflict) as error:
        service.create_room(
            session, location=room.location, name="Bay 1", kind="consult", capacity=1
        )
    assert error.value.code == "duplicate"
    other = service.create_room(
        session, location=LocationFactory(), name="Bay 1", kind="consult", capacity=1
    )
    assert other.id


def test_unknown_location_code_refused(session):
    with pytest.raises(InvalidInput) as error:
        service.create_room(session, location="NOPE", name="A", kind="consult", capacity=1)
    assert "location" in error.value.errors


def test_update_room_capacity_and_deactivate(session):
    room = RoomFactory(capacity=2)
    session.commit()
    service.update_room(session, room, capacity=3, active=False)
    session.commit()
    update = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity == "Room", AuditEvent.action == "update")
    ).one()
    assert update.changes["capacity"] == [2, 3]
    assert update.changes["active"] == [True, False]


def test_update_room_to_capacity_zero_refused(session):
    room = RoomFactory(capacity=2)
    with pytest.raises(InvalidInput):
        service.update_room(session, room, capacity=0)


def test_room_with_appointments_cannot_be_deleted(session):
    appointment = AppointmentFactory()
    with pytest.raises(Conflict) as error:
        service.delete_room(session, appointment.room)
    assert error.value.code == "in_use"


def test_room_without_history_can_be_deleted(session):
    room = RoomFactory()
    service.delete_room(session, room)
    assert session.get(Room, room.id) is None


def test_room_closure_must_end_after_start(session):
    room = RoomFactory()
    with pytest.raises(InvalidInput) as error:
        service.add_room_closure(session, room, starts_at=START, ends_at=START)
    assert "ends_at" in error.value.errors


def test_room_closure_needs_aware_datetimes(session):
    room = RoomFactory()
    naive = dt.datetime(2026, 12, 1, 9, 0)
    with pytest.raises(InvalidInput) as error:
        service.add_room_closure(
            session, room, starts_at=naive, ends_at=naive + dt.timedelta(hours=1)
        )
    assert set(error.value.errors) == {"starts_at", "ends_at"}


def test_room_closure_recorded(session):
    room = RoomFactory()
    closure = service.add_room_closure(
        session, room, starts_at=START, ends_at=START + dt.timedelta(hours=3), reason="pump service"
    )
    assert closure.id and room.closures == [closure]
