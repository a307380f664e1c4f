"""Domain exceptions, each with a stable machine ``code`` (listed at /api/v1/docs/errors by CATALOGUE).

Services raise these; the API turns them into problem+json, the console into a flashed message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DomainError(Exception):
    """A rule said no. ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        errors: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.errors = errors
        # Extra members of the problem document (RFC 9457 extensions), e.g. a course's "session".
        self.extensions = dict(extensions or {})


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    """A rule violation (409): room_at_capacity, outside_opening_hours, invalid_transition …"""

    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidInput(DomainError):
    """Input that is well-formed but not acceptable (422), with per-field ``errors``."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"


class PreconditionFailed(DomainError):
    """An ``If-Match`` that no longer matches: someone changed the resource since it was read."""

    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


# The 409 codes of the booking contract, spelled once.
ROOM_AT_CAPACITY = "room_at_capacity"
OUTSIDE_OPENING_HOURS = "outside_opening_hours"
ROOM_CLOSED = "room_closed"  # a room closure (maintenance), or a room out of service
ROOM_KIND_MISMATCH = "room_kind_mismatch"
ROOM_NOT_AT_LOCATION = "room_not_at_location"
LOCATION_CLOSED = "location_closed"  # a location closure (holiday), or a site out of service
STAFF_DOUBLE_BOOKED = "staff_double_booked"
PATIENT_DOUBLE_BOOKED = "patient_double_booked"
NOT_STARTED = "not_started"
REFERRAL_LOCATION_MISMATCH = "referral_location_mismatch"
STAFF_NOT_ELIGIBLE = "staff_not_eligible"
SITE_NOT_LICENSED = "site_not_licensed"
REFERRAL_NOT_APPROVED = "referral_not_approved"
INVALID_TRANSITION = "invalid_transition"
DUPLICATE = "duplicate"
IN_USE = "in_use"
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
MALFORMED_JSON = "malformed_json"
PRECONDITION_FAILED = "precondition_failed"
# Treatment courses: a course's sessions too close or too far apart (422), no course fits (409).
COURSE_SPACING = "course_spacing"
NO_COURSE_AVAILABLE = "no_course_available"


@dataclass(frozen=True)
class ErrorCode:
    """One entry of the error catalogue: a problem ``code``, its status, what it means, an example."""

    code: str
    status: int
    meaning: str
    example: str


# Every machine code a problem document can carry (the docs page and OpenAPI examples read it).
CATALOGUE: tuple[ErrorCode, ...] = (
    ErrorCode("bad_request", 400, "The request cannot be read: a header or parameter of the wrong form.",
              "The browser (or proxy) sent a request that this server could not understand."),
    ErrorCode(MALFORMED_JSON, 400, "The body is not valid JSON.", "The request body is not valid JSON."),
    ErrorCode("unauthorized", 401, "No API key, or one that is unknown, revoked or expired.",
              "A valid API key is required: Authorization: Bearer <key>."),
    ErrorCode("forbidden", 403, "The key lacks the scope the operation needs.",
              "This API key lacks the 'write' scope."),
    ErrorCode("not_found", 404, "No such resource (or not one this key may see).",
              "No appointment 'BK-1001'."),
    ErrorCode("method_not_allowed", 405, "The path exists, the method does not.",
              "The method is not allowed for the requested URL."),
    ErrorCode("conflict", 409, "The change conflicts with existing data (a concurrent write).",
              "The change conflicts with existing data."),
    ErrorCode(ROOM_AT_CAPACITY, 409, "Every chair of the room is taken at some instant of the slot.",
              "Room 3 has no free chair for the whole appointment."),
    ErrorCode(OUTSIDE_OPENING_HOURS, 409, "The location is not open for the whole appointment.",
              "GRN is not open for the whole appointment."),
    ErrorCode(ROOM_CLOSED, 409, "The room or the location is closed then (closure, out of service).",
              "GRN is closed that day."),
    ErrorCode(ROOM_KIND_MISMATCH, 409, "The room is not at the location or not of the appointment's kind.",
              "Room 3 is not an infusion room."),
    ErrorCode(STAFF_NOT_ELIGIBLE, 409, "The clinician lacks a valid credential for the kind at the site.",
              "Staff 12 is not eligible for infusion at CHI on 2026-12-01."),
    ErrorCode(SITE_NOT_LICENSED, 409, "The site has no valid controlled-substance registration that day.",
              "GRN has no valid DEA registration and state CSR on 2026-12-01."),
    ErrorCode(REFERRAL_NOT_APPROVED, 409, "The referral does not allow this kind of appointment yet.",
              "Referral 41 is not approved for infusions."),
    ErrorCode(INVALID_TRANSITION, 409, "The status may not move so (state machine, final statuses).",
              "A referral in received cannot move to completed."),
    ErrorCode(DUPLICATE, 409, "Already exists, or the same Idempotency-Key is still being processed.",
              "A location GRN already exists."),
    ErrorCode(IN_USE, 409, "Rows still depend on it: deactivate it instead of deleting it.",
              "Room 3 has appointments; deactivate it instead."),
    ErrorCode("already_sent", 409, "The report was already sent; resend it explicitly.",
              "This report was already sent; use resend to send it again."),
    ErrorCode("run_in_progress", 409, "The report is being built right now.",
              "This report is being built right now."),
    ErrorCode("not_built", 409, "Only a built report can be resent.", "Only a built report can be resent."),
    ErrorCode(NO_COURSE_AVAILABLE, 409, "No full course fits at the treatment location within 6 weeks.",
              "No course of 6 sessions fits at IND within 6 weeks of 2026-12-01."),
    ErrorCode(PRECONDITION_FAILED, 412, "The If-Match ETag no longer matches: re-read, then retry.",
              "The appointment changed since it was read (If-Match does not match its ETag)."),
    ErrorCode("payload_too_large", 413, "The body is larger than 1 MiB.",
              "The data value transmitted exceeds the capacity limit."),
    ErrorCode("unsupported_media_type", 415, "A body that is not application/json.",
              "Send the request body as application/json."),
    ErrorCode("invalid_input", 422, "Well-formed but unacceptable input; see errors per field.",
              "The request is invalid: see errors for each field."),
    ErrorCode(COURSE_SPACING, 422, "A course's sessions share a local day or lie too far apart.",
              "Sessions 2 and 3 are 8 days apart; at most 7 are allowed."),
    ErrorCode(IDEMPOTENCY_KEY_REUSED, 422, "The Idempotency-Key was used with another body.",
              "Idempotency-Key 'k-1' was used with another request."),
    ErrorCode("rate_limited", 429, "Too many requests for this key; wait Retry-After seconds.",
              "Rate limit of 600 per 1 minute exceeded for this API key."),
    ErrorCode("internal_error", 500, "An unexpected error; it has been logged.",
              "An unexpected error occurred; it has been logged."),
    ErrorCode("service_unavailable", 503, "The database is unavailable; retry after Retry-After.",
              "The database is unavailable; retry later."),
)  # fmt: skip
