"""API schemas of referrals, their events and screenings, and transition requests."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from opsadmin.referrals.models import (
    CONTRAINDICATIONS,
    INDICATIONS,
    REFERRAL_STATUSES,
    Referral,
    ReferralEvent,
    Screening,
)
from opsadmin.schemas import AwareDateTime, Schema


class ReferringProviderSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    npi = ma.fields.String(
        required=True,
        validate=ma.validate.Length(equal=10),
        metadata={"description": "10 digits; the last is the Luhn check digit (prefix 80840)."},
    )
    practice = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class ActorSchema(Schema):
    type = ma.fields.String(validate=ma.validate.OneOf(("user", "api_key", "system")))
    id = ma.fields.Integer(allow_none=True)
    label = ma.fields.String()


class ReferralEventSchema(Schema):
    from_status = ma.fields.String(data_key="from", allow_none=True)
    to_status = ma.fields.String(data_key="to")
    actor = ma.fields.Nested(ActorSchema)
    at = AwareDateTime()
    reason = ma.fields.String()

    @ma.pre_dump
    def with_actor(self, event: ReferralEvent, **kwargs: Any) -> dict[str, Any]:
        return {
            "from_status": event.from_status,
            "to_status": event.to_status,
            "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
            "at": event.at,
            "reason": event.reason,
        }


class ScreeningSchema(Schema):
    """A screening as the consult's physician decided it (the request's and the answer's shape)."""

    flags = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CONTRAINDICATIONS)), load_default=list
    )
    decided_by = ma.fields.Integer(
        required=True, metadata={"description": "Staff id of the deciding physician."}
    )
    override = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=4000),
        metadata={"description": "Written justification; required to approve with any flag."},
    )
    decision = ma.fields.String(dump_only=True)
    decided_at = AwareDateTime(dump_only=True)

    @ma.pre_dump
    def flatten(self, screening: Screening, **kwargs: Any) -> dict[str, Any]:
        return {
            "flags": screening.flags,
            "decided_by": screening.decided_by_id,
            "override": screening.override,
            "decision": screening.decision,
            "decided_at": screening.decided_at,
        }


class ReferralSchema(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(REFERRAL_STATUSES))
    patient_ref = ma.fields.String()
    indication = ma.fields.String(validate=ma.validate.OneOf(INDICATIONS))
    referring_provider = ma.fields.Nested(ReferringProviderSchema)
    received_on = ma.fields.Date()
    consult_location = ma.fields.String(metadata={"description": "Location code."})
    treatment_location = ma.fields.String(metadata={"description": "Location code."})
    planned_sessions = ma.fields.Integer()
    sessions_completed = ma.fields.Integer()
    follow_up_due_on = ma.fields.Date(allow_none=True)
    status_changed_at = AwareDateTime()
    created_at = AwareDateTime()
    updated_at = AwareDateTime()
    events = ma.fields.List(
        ma.fields.Nested(ReferralEventSchema), metadata={"description": "Oldest first."}
    )
    screenings = ma.fields.List(ma.fields.Nested(ScreeningSchema))

    @ma.pre_dump
    def flatten(self, referral: Referral, **kwargs: Any) -> dict[str, Any]:
        body = {
            name: getattr(referral, name)
            for name in (
                "id",
                "status",
                "patient_ref",
                "indication",
                "received_on",
                "planned_sessions",
                "sessions_completed",
                "follow_up_due_on",
                "status_changed_at",
                "created_at",
                "updated_at",
            )
        }
        body["referring_provider"] = {
            "name": referral.referring_provider_name,
            "npi": referral.referring_provider_npi,
            "practice": referral.referring_provider_practice,
        }
        body["consult_location"] = referral.consult_location.code
        body["treatment_location"] = referral.treatment_location.code
        if "events" not in self.exclude:
            body["events"] = referral.events
            body["screenings"] = referral.screenings
        return body


class ReferralCreateSchema(Schema):
    patient_ref = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "The booking system's opaque patient id (never a name)."},
    )
    indication = ma.fields.String(required=True, validate=ma.validate.OneOf(INDICATIONS))
    referring_provider = ma.fields.Nested(ReferringProviderSchema, required=True)
    received_on = ma.fields.Date(required=True)
    consult_location = ma.fields.String(required=True, metadata={"description": "Location code."})
    treatment_location = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "Location code; defaults to the consult location."},
    )
    planned_sessions = ma.fields.Integer(load_default=6, validate=ma.validate.Range(min=1, max=100))


class ReferralQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # page/page_size are parsed beside these

    status = ma.fields.String(validate=ma.validate.OneOf(REFERRAL_STATUSES))
    location = ma.fields.String(
        metadata={"description": "Consulted or treated at this location (code)."}
    )
    indication = ma.fields.String(validate=ma.validate.OneOf(INDICATIONS))
    stalled = ma.fields.Boolean(
        metadata={"description": "Only stalled referrals (true) or only the others (false)."}
    )


class TransitionSchema(Schema):
    to = ma.fields.String(required=True, validate=ma.validate.OneOf(REFERRAL_STATUSES))
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    screening = ma.fields.Nested(
        ScreeningSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Required to approve or decline."},
    )


class ReferralSummarySchema(ReferralSchema):
    """A referral in a list: without its events and screenings (read them on its own page)."""

    class Meta(Schema.Meta):
        exclude = ("events", "screenings")
