"""Domain exceptions, each with a stable machine ``code`` (DESIGN §6).

Services raise these; the API turns them into problem+json, the console into a flashed message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule said no. ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self, message: str, *, code: str | None = None, errors: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.errors = errors


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
