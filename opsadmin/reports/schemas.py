"""API schemas of the reports feature (DESIGN §6)."""

from __future__ import annotations

import marshmallow as ma

from opsadmin.schemas import Schema


class UtilisationQuerySchema(Schema):
    week = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(
            r"^\d{4}-W\d{2}$", error="Expected an ISO week such as 2026-W49."
        ),
        metadata={"example": "2026-W49"},
    )
    location = ma.fields.String(metadata={"description": "A location code (or give region)."})
    region = ma.fields.String(metadata={"description": "A region code (or give location)."})

    @ma.validates_schema
    def one_scope(self, data: dict, **kwargs: object) -> None:
        if ("location" in data) == ("region" in data):
            raise ma.ValidationError("Give exactly one of location and region.", "location")


class RoomUtilisationSchema(Schema):
    room_id = ma.fields.Integer()
    available_minutes = ma.fields.Integer()
    booked_minutes = ma.fields.Integer()
    utilisation = ma.fields.Float(allow_none=True)


class UtilisationSchema(Schema):
    week = ma.fields.String()
    available_minutes = ma.fields.Integer()
    booked_minutes = ma.fields.Integer()
    utilisation = ma.fields.Float(
        allow_none=True, metadata={"description": "0.0–1.0; null when nothing was open."}
    )
    no_show_rate = ma.fields.Float(
        allow_none=True, metadata={"description": "no_show / (completed + no_show)."}
    )
    rooms = ma.fields.List(ma.fields.Nested(RoomUtilisationSchema))
