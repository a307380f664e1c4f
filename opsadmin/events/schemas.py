"""API schemas of the event feed and of webhook endpoints."""

from __future__ import annotations

import marshmallow as ma

from opsadmin.events.models import EVENT_TYPES
from opsadmin.events.service import DEFAULT_LIMIT, MAX_LIMIT
from opsadmin.schemas import AwareDateTime, Schema

EVENT_TYPE = ma.validate.OneOf(EVENT_TYPES)


class EventQuerySchema(Schema):
    after = ma.fields.Integer(
        load_default=0,
        validate=ma.validate.Range(min=0, max=2**63 - 1),
        metadata={"description": "Resume after this event id (the previous answer's next_after)."},
    )
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT)
    )
    type = ma.fields.String(validate=EVENT_TYPE, metadata={"description": "Only this type."})


class EventSchema(Schema):
    id = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True, validate=EVENT_TYPE)
    occurred_at = AwareDateTime(required=True)
    data = ma.fields.Dict(
        required=True,
        metadata={
            "description": "appointment.*: the appointment as GET returns it; "
            "referral.status_changed: referral_id, from, to, at; location.updated: code."
        },
    )


class EventPageSchema(Schema):
    events = ma.fields.List(ma.fields.Nested(EventSchema), required=True)
    next_after = ma.fields.Integer(
        required=True,
        metadata={"description": "The last id returned, or the given after: resume from it."},
    )


class WebhookCreateSchema(Schema):
    url = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2000),
        metadata={"description": "https:// and a public address."},
    )
    events = ma.fields.List(
        ma.fields.String(validate=EVENT_TYPE),
        required=True,
        validate=ma.validate.Length(min=1, max=len(EVENT_TYPES)),
    )
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class WebhookSchema(Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(validate=EVENT_TYPE), required=True)
    description = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    disabled_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime(required=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = ma.fields.String(
        required=True,
        metadata={"description": "whsec_ + base64; shown in this answer only. Verify with it."},
    )
