"""JSON API of the bookings feature: appointments, availability, eligibility.

Views parse, call :mod:`opsadmin.bookings.service` / :mod:`~opsadmin.bookings.availability` /
:mod:`opsadmin.staff.eligibility` (every rule lives there), commit and present. The key check
(:func:`api_key_required`) ends its own transaction, so a booking opens a fresh one and can take
its lock first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from flask import jsonify, request
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from opsadmin.audit.service import audited_read
from opsadmin.auth.apikeys import api_key_required
from opsadmin.auth.idempotency import idempotent
from opsadmin.bookings import courses, service
from opsadmin.bookings.availability import MAX_DAYS, availability, availability_window
from opsadmin.bookings.models import Appointment
from opsadmin.bookings.schemas import (
    AppointmentPutSchema,
    AppointmentQuerySchema,
    AppointmentSchema,
    AppointmentStatusChangeSchema,
    AvailabilityQuerySchema,
    AvailabilitySchema,
    AvailabilityWindowSchema,
    CourseBookedSchema,
    CourseOptionsQuerySchema,
    CourseProposalSchema,
    CourseSchema,
    EligibilityQuerySchema,
    EligibilitySchema,
)
from opsadmin.errors import PRECONDITION_FAILED, PreconditionFailed
from opsadmin.extensions import db
from opsadmin.locations.service import get_location
from opsadmin.schemas import Blueprint, SelectPage
from opsadmin.staff.eligibility import eligibility

blp = Blueprint(
    "bookings",
    __name__,
    url_prefix="/api/v1",
    description="Appointments pushed by the booking system, availability and eligibility.",
)
blueprints: list[Blueprint] = [blp]

RULE_CONFLICTS = (
    "room_at_capacity, outside_opening_hours, location_closed, room_closed, room_kind_mismatch, "
    "room_not_at_location, staff_not_eligible, site_not_licensed, staff_double_booked, "
    "patient_double_booked, not_started, referral_location_mismatch, referral_not_approved, "
    "invalid_transition, duplicate"
)


ETAG_HEADERS = {
    "ETag": {
        "description": "The appointment's version: send it back in If-Match to update safely.",
        "schema": {"type": "string"},
    }
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag the change is based on; 412 precondition_failed when it no "
    "longer matches (someone changed the appointment since).",
}
PRECONDITION = "precondition_failed: If-Match does not match the appointment's ETag."


def etag(appointment: Appointment) -> str:
    """A strong ETag: changes with every write of the appointment (its updated_at)."""
    stamp = f"{appointment.id}:{appointment.updated_at.isoformat()}".encode()
    return hashlib.sha256(stamp).hexdigest()[:32]


def if_match() -> service.Precondition | None:
    """The request's If-Match as the service's precondition (None without the header)."""
    wanted = request.if_match
    if not wanted:
        return None

    def check(appointment: Appointment | None) -> None:
        if appointment is not None and (wanted.star_tag or wanted.contains(etag(appointment))):
            return
        raise PreconditionFailed(
            "The appointment changed since it was read (If-Match does not match its ETag).",
            code=PRECONDITION_FAILED,
        )

    return check


def with_etag(appointment: Appointment, status: int = 200) -> tuple[Appointment, int, dict]:
    return appointment, status, {"ETag": f'"{etag(appointment)}"'}


@blp.route("/appointments/<external_id>")
class AppointmentItem(MethodView):
    @api_key_required("write")
    @blp.arguments(AppointmentPutSchema)
    @blp.doc(parameters=[IF_MATCH])
    @blp.response(
        200,
        AppointmentSchema,
        description="Updated, or unchanged (identical body).",
        headers=ETAG_HEADERS,
    )
    @blp.alt_response(201, schema=AppointmentSchema, description="Created.", headers=ETAG_HEADERS)
    @blp.alt_response(409, description=f"A booking rule refused: {RULE_CONFLICTS}.")
    @blp.alt_response(412, description=PRECONDITION)
    def put(self, body: dict[str, Any], external_id: str) -> tuple[Appointment, int, dict]:
        """Create (201) or update/reschedule (200) the booking system's appointment.

        Every booking rule is checked in one transaction; the same body twice changes nothing."""
        booking = service.BookingRequest(external_id=external_id, **body)
        appointment, created = service.book_appointment(
            db.session, booking, precondition=if_match()
        )
        _commit_keeping(appointment)
        return with_etag(appointment, 201 if created else 200)

    @api_key_required("write")
    @blp.arguments(AppointmentStatusChangeSchema)
    @blp.doc(parameters=[IF_MATCH])
    @blp.response(200, AppointmentSchema, headers=ETAG_HEADERS)
    @blp.alt_response(
        409,
        description="invalid_transition: the status may not move so; not_started: completed "
        "or no_show before the appointment starts.",
    )
    @blp.alt_response(412, description=PRECONDITION)
    def patch(self, body: dict[str, Any], external_id: str) -> tuple[Appointment, int, dict]:
        """Move the appointment's status (booked/checked_in → checked_in, completed, no_show,
        cancelled); completed, no_show and cancelled are final."""
        appointment = service.change_status(
            db.session, external_id, body["status"], precondition=if_match()
        )
        _commit_keeping(appointment)
        return with_etag(appointment)

    @api_key_required("read", autocommit=True)
    @blp.response(200, AppointmentSchema, headers=ETAG_HEADERS)
    @audited_read("Appointment")
    def get(self, external_id: str) -> tuple[Appointment, int, dict]:
        """One appointment by the booking system's id."""
        return with_etag(service.get_appointment(db.session, external_id))


def _commit_keeping(appointment: Appointment) -> None:
    """Commit without expiring the appointment the response is about to present.

    Every column was just written or read under the row lock (no server-side defaults), so the
    default expire-on-commit would only cost a reload of the row and of its location: a fresh
    connection checkout and four round trips per booking.
    """
    session = db.session()
    appointment.location  # noqa: B018 - loaded inside the transaction (the identity map, usually)
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


@blp.route("/appointments")
class AppointmentList(MethodView):
    @api_key_required("read")
    @blp.arguments(AppointmentQuerySchema, location="query")
    @blp.response(200, AppointmentSchema(many=True))
    @audited_read("Appointment")
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> sa.Select:
        """Appointments by start time; ``from``/``to`` keep those overlapping [from, to);
        ``at_risk=true`` only the future bookings at risk."""
        return service.appointments_query(**args).options(
            selectinload(Appointment.location), selectinload(Appointment.risks)
        )


WINDOW_DOC = (
    f"One day (``date=``): the day's slots; a window (``from=``, ``to=``, at most {MAX_DAYS} "
    "days): ``days``, one entry a day."
)


@blp.route("/locations/<code>/availability")
class LocationAvailability(MethodView):
    @api_key_required("read", autocommit=True)
    @blp.arguments(AvailabilityQuerySchema, location="query")
    @blp.response(200, AvailabilitySchema)
    @blp.doc(responses={"200": {"description": WINDOW_DOC, "content": {"application/json": {
        "schema": {"oneOf": [AvailabilitySchema, AvailabilityWindowSchema]}}}}})  # fmt: skip
    def get(self, args: dict[str, Any], code: str) -> Any:
        """Every 15-minute start with a free chair for ``duration`` minutes on the local date,
        and the clinicians eligible for the kind there that day; with ``from`` and ``to``, the
        same for each day of the window (read at once)."""
        if "date" in args:
            return availability(db.session, code, args["date"], args["kind"], args["duration"])
        window = availability_window(
            db.session, code, args["from_"], args["to"], args["kind"], args["duration"]
        )
        return jsonify(AvailabilityWindowSchema().dump(window))


@blp.route("/staff/<int:staff_id>/eligibility")
class StaffEligibility(MethodView):
    @api_key_required("read")
    @blp.arguments(EligibilityQuerySchema, location="query")
    @blp.response(200, EligibilitySchema)
    def get(self, args: dict[str, Any], staff_id: int) -> Any:
        """Whether the staff member may take ``kind`` at ``location`` on the local ``date``, and
        what is missing (credential kind, state for state-issued kinds, reason)."""
        location = get_location(db.session, args["location"])
        on: dt.date = args["date"]
        return eligibility(db.session, staff_id, location.id, on, args["kind"])


@blp.route("/referrals/<int:referral_id>/course")
class ReferralCourse(MethodView):
    @api_key_required("write")
    @idempotent
    @blp.arguments(CourseSchema)
    @blp.response(201, CourseBookedSchema)
    @blp.alt_response(
        409,
        description=f"A session was refused ({RULE_CONFLICTS}); ``session`` is its 0-based index.",
    )
    @blp.alt_response(422, description="course_spacing, or invalid input.")
    def post(self, body: dict[str, Any], referral_id: int) -> tuple[courses.BookedCourse, int]:
        """Book the referral's course of infusions at its treatment location: all or none.

        Each session is an ordinary infusion checked by every booking rule; consecutive sessions
        fall on different local days at most OPSADMIN_COURSE_MAX_GAP_DAYS (7) apart."""
        sessions = [courses.CourseSession(**item) for item in body["sessions"]]
        return courses.book_course(db.session, referral_id, sessions), 201


@blp.route("/referrals/<int:referral_id>/course-options")
class ReferralCourseOptions(MethodView):
    @api_key_required("read")
    @blp.arguments(CourseOptionsQuerySchema, location="query")
    @blp.response(200, CourseProposalSchema)
    @blp.alt_response(409, description="no_course_available, or referral_not_approved.")
    def get(self, args: dict[str, Any], referral_id: int) -> courses.CourseProposal:
        """The earliest feasible course at the treatment location from ``from``: a free chair,
        an eligible clinician, the spacing rules and no overlap with the patient's appointments,
        the whole course within six weeks."""
        return courses.course_options(db.session, referral_id, **args)
