"""API schemas of regions and locations: what the booking and HR systems send and get."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from opsadmin.locations.models import SITE_REGISTRATION_KINDS, Location
from opsadmin.schemas import MaskedNumber, Schema, bookings_at_risk_field

CODE = ma.validate.Length(min=1, max=16)


class RegionSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    lead_emails = ma.fields.List(ma.fields.String(), load_default=list)


class AddressSchema(Schema):
    line1 = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    city = ma.fields.String(load_default="", validate=ma.validate.Length(max=120))
    state = ma.fields.String(required=True, metadata={"description": "US state code, e.g. IN."})
    postal_code = ma.fields.String(load_default="", validate=ma.validate.Length(max=10))


class AddressUpdateSchema(Schema):
    """PATCH of an address: only the given parts change."""

    line1 = ma.fields.String(validate=ma.validate.Length(max=200))
    city = ma.fields.String(validate=ma.validate.Length(max=120))
    state = ma.fields.String()
    postal_code = ma.fields.String(validate=ma.validate.Length(max=10))


class OpeningHoursSchema(Schema):
    weekday = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=0, max=6),
        metadata={"description": "Monday = 0 … Sunday = 6."},
    )
    opens = ma.fields.Time(required=True, format="%H:%M", metadata={"example": "08:00"})
    closes = ma.fields.Time(required=True, format="%H:%M", metadata={"example": "18:00"})


class LocationClosureSchema(Schema):
    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer(dump_only=True)
    starts_on = ma.fields.Date(required=True, metadata={"description": "Local date, inclusive."})
    ends_on = ma.fields.Date(required=True, metadata={"description": "Local date, inclusive."})
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class SiteRegistrationSchema(Schema):
    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(SITE_REGISTRATION_KINDS))
    number = MaskedNumber(
        required=True,
        metadata={"description": "The last 4 characters only, unless the key has admin."},
        validate=ma.validate.Length(min=1, max=40),
    )
    state = ma.fields.String(required=True)
    issued_on = ma.fields.Date(load_default=None, allow_none=True)
    expires_on = ma.fields.Date(required=True)


class LocationSchema(Schema):
    """A location as the API shows it (the address as one object, the region by its code)."""

    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    region = ma.fields.String()
    timezone = ma.fields.String()
    address = ma.fields.Nested(AddressSchema)
    phone = ma.fields.String()
    active = ma.fields.Boolean()
    opening_hours = ma.fields.List(ma.fields.Nested(OpeningHoursSchema))
    closures = ma.fields.List(ma.fields.Nested(LocationClosureSchema))
    registrations = ma.fields.List(ma.fields.Nested(SiteRegistrationSchema))

    @ma.pre_dump
    def flatten(self, location: Location, **kwargs: Any) -> dict[str, Any]:
        answer = (
            {"bookings_at_risk": location.bookings_at_risk}
            if hasattr(location, "bookings_at_risk")
            else {}
        )  # the answer of a write
        return answer | {
            "id": location.id,
            "code": location.code,
            "name": location.name,
            "region": location.region.code,
            "timezone": location.timezone,
            "address": {
                "line1": location.address_line1,
                "city": location.city,
                "state": location.state,
                "postal_code": location.postal_code,
            },
            "phone": location.phone,
            "active": location.active,
            "opening_hours": location.opening_hours,
            "closures": location.closures,
            "registrations": location.registrations,
        }


class LocationCreateSchema(Schema):
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    region = ma.fields.String(required=True, metadata={"description": "The region's code."})
    timezone = ma.fields.String(required=True, metadata={"example": "America/Indiana/Indianapolis"})
    address = ma.fields.Nested(AddressSchema, required=True)
    phone = ma.fields.String(load_default="", validate=ma.validate.Length(max=32))
    active = ma.fields.Boolean(load_default=True)
    opening_hours = ma.fields.List(ma.fields.Nested(OpeningHoursSchema), load_default=list)


class LocationUpdateSchema(Schema):
    """PATCH: every field optional; ``opening_hours`` replaces the whole week."""

    code = ma.fields.String(validate=CODE)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    region = ma.fields.String()
    timezone = ma.fields.String()
    address = ma.fields.Nested(AddressUpdateSchema)
    phone = ma.fields.String(validate=ma.validate.Length(max=32))
    active = ma.fields.Boolean()
    opening_hours = ma.fields.List(ma.fields.Nested(OpeningHoursSchema))


class LocationQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # page/page_size are parsed beside these

    region = ma.fields.String(metadata={"description": "Only this region's locations (code)."})
    active = ma.fields.Boolean()


def location_values(data: dict[str, Any]) -> dict[str, Any]:
    """The API's body as the service's keyword values (the address flattened into columns)."""
    values = dict(data)
    address = values.pop("address", None) or {}
    names = {
        "line1": "address_line1",
        "city": "city",
        "state": "state",
        "postal_code": "postal_code",
    }
    for key, column in names.items():
        if key in address:
            values[column] = address[key]
    if "opening_hours" in values:
        values["opening_hours"] = [
            {"weekday": h["weekday"], "opens": h["opens"], "closes": h["closes"]}
            for h in values["opening_hours"]
        ]
    return values
