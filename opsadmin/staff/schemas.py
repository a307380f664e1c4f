"""API schemas of staff members and their credentials."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma

from opsadmin.config import setting
from opsadmin.schemas import MaskedNumber, Schema, bookings_at_risk_field
from opsadmin.staff.models import (
    APPOINTMENT_KINDS,
    CREDENTIAL_KINDS,
    STAFF_ROLES,
    Credential,
    StaffMember,
)
from opsadmin.staff.service import CREDENTIAL_STATUSES, credential_status

NAME = ma.validate.Length(min=1, max=120)


class CredentialSchema(Schema):
    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(CREDENTIAL_KINDS))
    number = MaskedNumber(
        required=True,
        metadata={"description": "The last 4 characters only, unless the key has admin."},
        validate=ma.validate.Length(min=1, max=60),
    )
    state = ma.fields.String(load_default=None, allow_none=True)
    issued_on = ma.fields.Date(required=True)
    expires_on = ma.fields.Date(required=True)
    verified_on = ma.fields.Date(load_default=None, allow_none=True)
    verified_by = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(max=120)
    )
    status = ma.fields.String(
        dump_only=True,
        validate=ma.validate.OneOf(CREDENTIAL_STATUSES),
        metadata={"description": "Derived on today's date."},
    )


class StaffSchema(Schema):
    bookings_at_risk = bookings_at_risk_field()
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    role = ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES))
    active = ma.fields.Boolean()
    locations = ma.fields.List(ma.fields.String(), metadata={"description": "Location codes."})
    credentials = ma.fields.List(ma.fields.Nested(CredentialSchema))

    @ma.pre_dump
    def flatten(self, staff: StaffMember, **kwargs: Any) -> dict[str, Any]:

        today = dt.date.today()
        warning_days = int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS"))
        flat = {
            "id": staff.id,
            "name": staff.name,
            "email": staff.email,
            "role": staff.role,
            "active": staff.active,
            "locations": [location.code for location in staff.locations],
            "credentials": [credential_view(c, today, warning_days) for c in staff.credentials],
        }
        if hasattr(staff, "bookings_at_risk"):  # the answer of a write
            flat["bookings_at_risk"] = staff.bookings_at_risk
        return flat


class StaffCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=NAME)
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=254))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(STAFF_ROLES))
    locations = ma.fields.List(ma.fields.String(), load_default=list)
    active = ma.fields.Boolean(load_default=True)


class StaffUpdateSchema(Schema):
    name = ma.fields.String(validate=NAME)
    email = ma.fields.String(validate=ma.validate.Length(min=1, max=254))
    role = ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES))
    locations = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean()


class StaffQuerySchema(ma.Schema):
    """``eligible_on`` and ``kind`` go together, and need ``location``."""

    class Meta:
        unknown = ma.EXCLUDE  # page/page_size are parsed beside these

    location = ma.fields.String(metadata={"description": "Working at this location (code)."})
    role = ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES))
    eligible_on = ma.fields.Date(metadata={"description": "Eligible on this local date."})
    kind = ma.fields.String(validate=ma.validate.OneOf(APPOINTMENT_KINDS))

    @ma.validates_schema
    def eligibility_needs_all_three(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [name for name in ("eligible_on", "kind") if name in data]
        if given and (len(given) < 2 or "location" not in data):
            message = "eligible_on and kind filter together, with location."
            raise ma.ValidationError(
                {name: [message] for name in ("location", "eligible_on", "kind")}
            )


def credential_view(credential: Credential, on: dt.date, warning_days: int) -> dict[str, Any]:
    """A credential with its status derived on ``on``."""
    return {
        "id": credential.id,
        "kind": credential.kind,
        "number": credential.number,
        "state": credential.state,
        "issued_on": credential.issued_on,
        "expires_on": credential.expires_on,
        "verified_on": credential.verified_on,
        "verified_by": credential.verified_by,
        "status": credential_status(credential, on, warning_days),
    }
