"""JSON API of rooms: a location's rooms for the booking system, room writes for admins.

Views parse, call :mod:`opsadmin.rooms.service` (every rule lives there), commit and present.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from opsadmin.auth.apikeys import api_key_required
from opsadmin.extensions import db
from opsadmin.impact import with_bookings_at_risk
from opsadmin.locations.service import get_location
from opsadmin.rooms import service
from opsadmin.rooms.models import Room
from opsadmin.rooms.schemas import RoomClosureSchema, RoomCreateSchema, RoomSchema, RoomUpdateSchema
from opsadmin.schemas import Blueprint, SelectPage

blp = Blueprint("rooms", __name__, url_prefix="/api/v1", description="Rooms and their chairs.")
blueprints: list[Blueprint] = [blp]


def room_query() -> sa.Select:
    return sa.select(Room).options(selectinload(Room.location), selectinload(Room.closures))


def load_room(room_id: int) -> Room:
    room = db.session.scalar(room_query().where(Room.id == room_id))
    if room is None:
        service.get_room(db.session, room_id)  # raises NotFound with the service's message
    return room


@blp.route("/locations/<code>/rooms")
class LocationRooms(MethodView):
    @api_key_required("read")
    @blp.response(200, RoomSchema(many=True))
    @blp.paginate(SelectPage)  # every list pages (page/page_size, X-Pagination)
    def get(self, code: str) -> sa.Select:
        """The location's rooms by name, inactive ones included (``active`` says which)."""
        location = get_location(db.session, code)
        return room_query().where(Room.location_id == location.id).order_by(Room.name, Room.id)


@blp.route("/rooms")
class Rooms(MethodView):
    @api_key_required("admin")
    @blp.arguments(RoomCreateSchema)
    @blp.response(201, RoomSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a room (kind infusion, consult or recovery; capacity in chairs, at least 1)."""
        room = service.create_room(db.session, **data)
        db.session.commit()
        room_id = room.id
        return load_room(room_id), 201, {"Location": url_for("rooms.Room", room_id=room_id)}


@blp.route("/rooms/<int:room_id>", endpoint="Room")
class RoomView(MethodView):
    @api_key_required("read")
    @blp.response(200, RoomSchema)
    def get(self, room_id: int) -> Room:
        """A room with its maintenance closures."""
        return load_room(room_id)

    @api_key_required("admin")
    @blp.arguments(RoomUpdateSchema)
    @blp.response(200, RoomSchema)
    def patch(self, data: dict[str, Any], room_id: int) -> Room:
        """Change the given fields; deactivate with ``"active": false``."""
        service.update_room(db.session, load_room(room_id), **data)
        db.session.commit()
        return with_bookings_at_risk(load_room(room_id))


@blp.route("/rooms/<int:room_id>/closures")
class RoomClosures(MethodView):
    @api_key_required("admin")
    @blp.arguments(RoomClosureSchema)
    @blp.response(201, RoomClosureSchema)
    def post(self, data: dict[str, Any], room_id: int) -> Any:
        """Close the room for maintenance over [starts_at, ends_at)."""
        closure = service.add_room_closure(db.session, load_room(room_id), **data)
        db.session.commit()
        return (
            with_bookings_at_risk(closure),
            201,
            {"Location": url_for("rooms.Room", room_id=room_id)},
        )
