"""API schemas of rooms and their maintenance closures."""

from __future__ import annotations

import marshmallow as ma

from opsadmin.rooms.models import ROOM_KINDS
from opsadmin.schemas import AwareDateTime, Schema, bookings_at_risk_field

NAME = ma.validate.Length(min=1, max=120)


class RoomClosureSchema(Schema):
    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer(dump_only=True)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class RoomSchema(Schema):
    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer()
    location = ma.fields.String(attribute="location.code", metadata={"description": "Its code."})
    name = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf(ROOM_KINDS))
    capacity = ma.fields.Integer(metadata={"description": "Chairs."})
    active = ma.fields.Boolean()
    closures = ma.fields.List(ma.fields.Nested(RoomClosureSchema))


class RoomCreateSchema(Schema):
    location = ma.fields.String(required=True, metadata={"description": "The location's code."})
    name = ma.fields.String(required=True, validate=NAME)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ROOM_KINDS))
    capacity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=1000))
    active = ma.fields.Boolean(load_default=True)


class RoomUpdateSchema(Schema):
    location = ma.fields.String()
    name = ma.fields.String(validate=NAME)
    kind = ma.fields.String(validate=ma.validate.OneOf(ROOM_KINDS))
    capacity = ma.fields.Integer(validate=ma.validate.Range(min=1, max=1000))
    active = ma.fields.Boolean()
