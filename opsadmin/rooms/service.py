"""Rooms: master-data rules for rooms and their maintenance closures.

As in :mod:`opsadmin.locations.service`, ``validate_*`` checks an object (the console calls it on
the object its form populated) and ``create_*``/``update_*`` take plain values (the API).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.errors import DomainError, InvalidInput, NotFound
from opsadmin.locations.models import Location
from opsadmin.rooms.models import ROOM_KINDS, Room, RoomClosure
from opsadmin.validation import (
    FieldErrors,
    apply_values,
    check_required,
    delete_without_history,
    duplicate,
)

ROOM_FIELDS = ("location", "name", "kind", "capacity", "active")


def validate_room(session: Session, room: Room) -> None:
    """Kind, capacity ≥ 1, a location; Conflict(duplicate) when the location has that name."""
    errors = FieldErrors()
    check_required(errors, {"name": room.name})
    if room.location is None and room.location_id is None:
        errors.add("location", "Choose the room's location.")
    if room.kind not in ROOM_KINDS:
        errors.add("kind", f"Kind must be one of {', '.join(ROOM_KINDS)}.")
    if not isinstance(room.capacity, int) or isinstance(room.capacity, bool) or room.capacity < 1:
        errors.add("capacity", "Capacity must be a whole number of chairs, at least 1.")
    errors.raise_if_any("room")
    location_id = room.location.id if room.location is not None else room.location_id
    query = sa.select(Room.id).where(Room.location_id == location_id, Room.name == room.name)
    if room.id is not None:
        query = query.where(Room.id != room.id)
    with session.no_autoflush:
        if session.scalar(query.limit(1)) is not None:
            raise duplicate("name", f"This location already has a room named {room.name!r}.")


def _resolve_location(session: Session, location: Location | str | None) -> Location | None:
    if location is None or isinstance(location, Location):
        return location
    with session.no_autoflush:
        found = session.scalar(sa.select(Location).where(Location.code == location))
    if found is None:
        message = f"No location {location!r}."
        raise InvalidInput(message, errors={"location": [message]})
    return found


def create_room(
    session: Session,
    *,
    location: Location | str,
    name: str,
    kind: str,
    capacity: int,
    active: bool = True,
) -> Room:
    """Create a room at ``location`` (a Location or its code)."""
    room = Room(name=name, kind=kind, capacity=capacity, active=active)
    room.location = _resolve_location(session, location)
    try:
        validate_room(session, room)
    except DomainError:
        # Undo the backref append, or the refused room would ride along Location.rooms.
        room.location = None
        raise
    session.add(room)
    session.flush()
    return room


def update_room(session: Session, room: Room, **values: object) -> Room:
    """Change the given fields (``location`` a Location or its code); deactivate with active=False."""
    values = dict(values)
    with session.no_autoflush:
        if "location" in values:
            values["location"] = _resolve_location(session, values["location"])
        apply_values(room, values, ROOM_FIELDS)
        validate_room(session, room)
    session.flush()
    return room


def get_room(session: Session, room_id: int) -> Room:
    room = session.get(Room, room_id)
    if room is None:
        raise NotFound(f"No room {room_id}.")
    return room


def delete_room(session: Session, room: Room) -> None:
    """Delete a room with no appointments; Conflict(in_use) otherwise (deactivate it)."""
    delete_without_history(session, room, "room")


# -- room closures -----------------------------------------------------------------------------
def validate_room_closure(session: Session, closure: RoomClosure) -> None:
    """Aware datetimes, the end after the start, a room."""
    errors = FieldErrors()
    check_required(errors, {"starts_at": closure.starts_at, "ends_at": closure.ends_at})
    if closure.room is None and closure.room_id is None:
        errors.add("room", "Choose the room.")
    for field in ("starts_at", "ends_at"):
        value = getattr(closure, field)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            errors.add(field, "Give the time with its UTC offset (e.g. 2026-12-01T09:00-05:00).")
    errors.raise_if_any("room closure")
    if closure.ends_at <= closure.starts_at:
        message = "The closure must end after it starts."
        raise InvalidInput(
            f"Invalid room closure — ends_at: {message}", errors={"ends_at": [message]}
        )


def add_room_closure(
    session: Session,
    room: Room,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
) -> RoomClosure:
    closure = RoomClosure(starts_at=starts_at, ends_at=ends_at, reason=reason or "")
    closure.room_id = room.id
    validate_room_closure(session, closure)
    room.closures.append(closure)
    session.flush()
    return closure
