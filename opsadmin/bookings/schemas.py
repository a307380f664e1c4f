"""API schemas of appointments, availability and eligibility.

Request datetimes must carry an offset (a naive one is a 422); responses give UTC with ``Z``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma

from opsadmin.bookings.availability import MAX_DAYS, MAX_DURATION_MINUTES
from opsadmin.bookings.courses import DEFAULT_SESSION_MINUTES, MAX_COURSE_SESSIONS
from opsadmin.bookings.models import APPOINTMENT_STATUSES, RISK_REASONS
from opsadmin.referrals.models import INDICATIONS
from opsadmin.schemas import AwareDateTime, Schema
from opsadmin.staff.models import APPOINTMENT_KINDS, STAFF_ROLES

KIND = ma.validate.OneOf(APPOINTMENT_KINDS)
STATUS = ma.validate.OneOf(APPOINTMENT_STATUSES)
# Printable text only: a control character (NUL above all) is refused by PostgreSQL itself.
LOCATION_CODE = ma.validate.Regexp(r"^[^\x00-\x1f\x7f]{1,16}$", error="Not a location code.")
ROW_ID = ma.validate.Range(min=1, max=2**31 - 1)


class AppointmentPutSchema(Schema):
    """The booking system's appointment; ``external_id`` is the URL's."""

    location = ma.fields.String(
        required=True, validate=LOCATION_CODE, metadata={"description": "Location code."}
    )
    room_id = ma.fields.Integer(required=True, validate=ROW_ID)
    staff_id = ma.fields.Integer(required=True, validate=ROW_ID)
    kind = ma.fields.String(required=True, validate=KIND)
    indication = ma.fields.String(required=True, validate=ma.validate.OneOf(INDICATIONS))
    patient_ref = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "The booking system's opaque patient id; never a name."},
    )
    referral_id = ma.fields.Integer(load_default=None, allow_none=True)
    starts_at = AwareDateTime(
        required=True, metadata={"description": "Whole minutes, with offset."}
    )
    ends_at = AwareDateTime(required=True, metadata={"description": "After starts_at."})
    status = ma.fields.String(load_default="booked", validate=STATUS)

    @ma.validates_schema
    def ends_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "starts_at" in data and "ends_at" in data and data["ends_at"] <= data["starts_at"]:
            raise ma.ValidationError({"ends_at": ["Must be after starts_at."]})


class AppointmentStatusChangeSchema(Schema):
    status = ma.fields.String(required=True, validate=STATUS)


class LocationCodeSchema(Schema):
    code = ma.fields.String()


class AppointmentSchema(Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String()
    location = ma.fields.Pluck(LocationCodeSchema, "code")
    room_id = ma.fields.Integer()
    staff_id = ma.fields.Integer()
    kind = ma.fields.String(validate=KIND)
    indication = ma.fields.String(validate=ma.validate.OneOf(INDICATIONS))
    patient_ref = ma.fields.String()
    referral_id = ma.fields.Integer(allow_none=True)
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    status = ma.fields.String(validate=STATUS)
    at_risk = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(RISK_REASONS)),
        metadata={
            "description": "Why this future booking would be refused today, in this order: "
            + ", ".join(RISK_REASONS)
            + ". Empty when fine."
        },
    )
    created_at = AwareDateTime()
    updated_at = AwareDateTime()


class AppointmentQuerySchema(ma.Schema):
    """``from``/``to`` select the appointments overlapping [from, to)."""

    class Meta:
        unknown = ma.EXCLUDE  # page/page_size are parsed beside these

    location = ma.fields.String(validate=LOCATION_CODE, metadata={"description": "Location code."})
    starts_from = AwareDateTime(
        data_key="from", metadata={"description": "Appointments ending after this instant."}
    )
    starts_before = AwareDateTime(
        data_key="to", metadata={"description": "Appointments starting before this instant."}
    )
    status = ma.fields.String(validate=STATUS)
    at_risk = ma.fields.Boolean(
        metadata={"description": "true: only the future bookings at risk; false: the others."}
    )


class AvailabilityQuerySchema(Schema):
    date = ma.fields.Date(
        metadata={"description": "The location's local date (or give from and to)."}
    )
    from_ = ma.fields.Date(
        data_key="from",
        metadata={"description": f"First local date of a window of at most {MAX_DAYS} days."},
    )
    to = ma.fields.Date(metadata={"description": "Last local date of the window (inclusive)."})
    kind = ma.fields.String(required=True, validate=KIND)
    duration = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1, max=MAX_DURATION_MINUTES),
        metadata={"description": "Minutes."},
    )

    @ma.validates_schema(skip_on_field_errors=False)
    def one_day_or_a_window(self, data: dict[str, Any], **kwargs: Any) -> None:
        window = {"from": data.get("from_"), "to": data.get("to")}
        given = [name for name, value in window.items() if value is not None]
        if "date" in data and given:
            raise ma.ValidationError({"date": ["Give date, or from and to, not both."]})
        if "date" not in data and not given:
            raise ma.ValidationError({"date": ["Give date, or from and to."]})
        if "date" not in data and len(given) == 1:
            raise ma.ValidationError(
                {name: ["Give from and to."] for name in window if name not in given}
            )
        if len(given) == 2:
            _check_window(window["from"], window["to"])


def _check_window(first: dt.date, last: dt.date) -> None:
    days = (last - first).days
    if days < 0:
        raise ma.ValidationError({"to": ["Must not be before from."]})
    if days >= MAX_DAYS:
        raise ma.ValidationError({"to": [f"At most {MAX_DAYS} days, from included."]})


class AvailableSlotSchema(Schema):
    room_id = ma.fields.Integer()
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    free_chairs = ma.fields.Integer()


class SlotList(ma.fields.List):
    """A list of :class:`AvailableSlotSchema` documents, serialised in one loop.

    A day holds a few hundred slots, and marshmallow's per-field machinery cost milliseconds per
    availability request; the output (and the OpenAPI description) is the nested schema's own.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ma.fields.Nested(AvailableSlotSchema), **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[dict] | None:
        if value is None:
            return None
        # Every room shares the day's starts: each instant is written out once per response.
        texts: dict[dt.datetime, str] = {}

        def text(instant: dt.datetime) -> str:
            found = texts.get(instant)
            if found is None:
                found = texts[instant] = _utc_text(instant)
            return found

        return [
            {
                "room_id": int(slot.room_id),
                "starts_at": text(slot.starts_at),
                "ends_at": text(slot.ends_at),
                "free_chairs": int(slot.free_chairs),
            }
            for slot in value
        ]


def _utc_text(value: dt.datetime) -> str:
    # AwareDateTime's own output: UTC, ISO 8601, "Z".
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class EligibleStaffSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    role = ma.fields.String(validate=ma.validate.OneOf(STAFF_ROLES))


class AvailabilitySchema(Schema):
    location = ma.fields.Pluck(LocationCodeSchema, "code")
    date = ma.fields.Date()
    kind = ma.fields.String(validate=KIND)
    duration = ma.fields.Integer()
    slots = SlotList()
    eligible_staff = ma.fields.List(ma.fields.Nested(EligibleStaffSchema))


class AvailabilityDaySchema(Schema):
    date = ma.fields.Date()
    slots = SlotList()
    eligible_staff = ma.fields.List(ma.fields.Nested(EligibleStaffSchema))


class AvailabilityWindowSchema(Schema):
    location = ma.fields.Pluck(LocationCodeSchema, "code")
    kind = ma.fields.String(validate=KIND)
    duration = ma.fields.Integer()
    days = ma.fields.List(ma.fields.Nested(AvailabilityDaySchema))


class EligibilityQuerySchema(Schema):
    location = ma.fields.String(
        required=True, validate=LOCATION_CODE, metadata={"description": "Location code."}
    )
    date = ma.fields.Date(required=True, metadata={"description": "The location's local date."})
    kind = ma.fields.String(required=True, validate=KIND)


class MissingCredentialSchema(Schema):
    kind = ma.fields.String(
        metadata={
            "description": "A credential kind, or location / staff / credential_rule for the "
            "not_assigned / inactive / no_rule reasons."
        }
    )
    state = ma.fields.String(metadata={"description": "For state-issued credential kinds."})
    reason = ma.fields.String(
        validate=ma.validate.OneOf(
            ("missing", "expired", "unverified", "not_assigned", "inactive", "no_rule")
        )
    )


class EligibilitySchema(Schema):
    eligible = ma.fields.Boolean()
    missing = ma.fields.List(ma.fields.Nested(MissingCredentialSchema))


# -- treatment courses ---------------------------------------------------------------------------


class CourseSessionSchema(Schema):
    """One infusion of the course; kind, indication, patient and referral come from the referral."""

    external_id = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"description": "The booking system's id of this session's appointment (new)."},
    )
    room_id = ma.fields.Integer(required=True, validate=ROW_ID)
    staff_id = ma.fields.Integer(required=True, validate=ROW_ID)
    starts_at = AwareDateTime(
        required=True, metadata={"description": "Whole minutes, with offset."}
    )
    ends_at = AwareDateTime(required=True, metadata={"description": "After starts_at."})

    @ma.validates_schema
    def ends_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "starts_at" in data and "ends_at" in data and data["ends_at"] <= data["starts_at"]:
            raise ma.ValidationError({"ends_at": ["Must be after starts_at."]})


class CourseSchema(Schema):
    sessions = ma.fields.List(
        ma.fields.Nested(CourseSessionSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_COURSE_SESSIONS),
        metadata={"description": "The course's infusions; a refusal names its 0-based index."},
    )


class CourseBookedSchema(Schema):
    referral_id = ma.fields.Integer()
    appointments = ma.fields.List(ma.fields.Nested(AppointmentSchema))


class CourseOptionsQuerySchema(Schema):
    start_day = ma.fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "First local date to consider (default: today at the site)."},
    )
    sessions = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(min=1, max=MAX_COURSE_SESSIONS),
        metadata={"description": "How many sessions (default: those still planned)."},
    )
    duration = ma.fields.Integer(
        load_default=DEFAULT_SESSION_MINUTES,
        validate=ma.validate.Range(min=1, max=MAX_DURATION_MINUTES),
        metadata={"description": "Minutes per session (default 120)."},
    )


class ProposedSessionSchema(Schema):
    room_id = ma.fields.Integer()
    staff_id = ma.fields.Integer()
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()


class CourseProposalSchema(Schema):
    sessions = ma.fields.List(ma.fields.Nested(ProposedSessionSchema))
