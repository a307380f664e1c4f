"""API schemas of the reports feature."""

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


class ForecastQuerySchema(Schema):
    region = ma.fields.String(required=True, metadata={"description": "A region code."})
    weeks = ma.fields.Integer(
        load_default=4,
        validate=ma.validate.Range(min=1, max=26),
        metadata={"description": "How many ISO weeks ahead, from next week (1–26, default 4)."},
    )


class ForecastLocationSchema(Schema):
    location = ma.fields.String(metadata={"description": "The treatment location's code."})
    booked_minutes = ma.fields.Integer(
        metadata={"description": "Infusions booked in the week (not cancelled), in minutes."}
    )
    expected_minutes = ma.fields.Integer(
        metadata={
            "description": "Sessions of approved or in-treatment referrals not yet booked, "
            "× OPSADMIN_INFUSION_MINUTES, three a week from the first week."
        }
    )
    available_minutes = ma.fields.Integer(
        metadata={"description": "Open chair-minutes, counted as in the utilisation report."}
    )
    shortfall = ma.fields.Boolean(
        metadata={"description": "True when booked + expected exceeds 90 % of available."}
    )


class ForecastWeekSchema(Schema):
    week = ma.fields.String(metadata={"example": "2026-W49"})
    locations = ma.fields.List(ma.fields.Nested(ForecastLocationSchema))


class ForecastSchema(Schema):
    region = ma.fields.String()
    weeks = ma.fields.List(ma.fields.Nested(ForecastWeekSchema))
