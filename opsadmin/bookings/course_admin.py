"""The treatment course on a referral's console page: its sessions as a timeline, "Propose course"
(the earliest course, in the site's local time, with rooms and clinicians) and "Book course".

:class:`CourseConsole` is mixed into the referral view: its pages are that view's (same access
check, same regional scoping through ``get_one``). Both call :mod:`opsadmin.bookings.courses`,
the functions the API calls, so the console and the booking system cannot disagree about a course.
Booking is a POST with the CSRF token; its appointments are audited by the audit hook, and the
course itself by one explicit audit event in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, request
from flask_admin import expose

from opsadmin.audit import service as audit
from opsadmin.bookings import courses
from opsadmin.db import utcnow
from opsadmin.errors import DomainError
from opsadmin.extensions import db
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date, zone
from opsadmin.rooms.models import Room
from opsadmin.staff.models import StaffMember

STATUS_BADGES = {
    "booked": "primary",
    "checked_in": "info",
    "completed": "success",
    "no_show": "warning",
    "cancelled": "secondary",
}


def site_time(site: Location, instant: dt.datetime, pattern: str = "%a %d %b %Y %H:%M") -> str:
    """An instant as the site's wall clock shows it."""
    return instant.astimezone(zone(site.timezone)).strftime(pattern)


def course_context(referral: Any) -> dict[str, Any]:
    """What the referral's page shows of its course: the sessions and the proposal form."""
    site = referral.treatment_location
    return {
        "course_sessions": courses.course_appointments(db.session, referral.id),
        "course_open": referral.status in courses.COURSE_STATUSES,
        "course_site": site,
        "course_defaults": {
            "from": local_date(site, utcnow()).isoformat(),
            "sessions": max(1, referral.planned_sessions - referral.sessions_completed),
            "duration": courses.DEFAULT_SESSION_MINUTES,
        },
        "site_time": site_time,
        "status_badges": STATUS_BADGES,
    }


class CourseConsole:
    """ "Propose course" and "Book course" pages of the referral view (a flask-admin ModelView)."""

    @expose("/course/propose/")
    def course_propose_view(self):
        referral = self.get_one(request.args.get("id", ""))
        if referral is None:
            flash("Record does not exist.", "error")
            return redirect(self.get_url(".index_view"))
        try:
            proposal = courses.course_options(db.session, referral.id, **_proposal_args())
        except DomainError as error:
            flash(f"No proposal: {error.message}", "error")
            return redirect(self.get_url(".details_view", id=referral.id) + "#course")
        return self.render(
            "bookings/course_proposal.html",
            referral=referral,
            proposal=proposal,
            rooms=_names(Room, {s.room_id for s in proposal.sessions}),
            clinicians=_names(StaffMember, {s.staff_id for s in proposal.sessions}),
            batch=f"OPS-{referral.id}-{secrets.token_hex(3).upper()}",
            can_book=self.can_write(),
            site_time=site_time,
        )

    @expose("/course/book/", methods=("POST",))
    def course_book_view(self):
        # End the read the access check began: the course opens its own writer transaction.
        db.session.commit()
        referral = self.get_one(request.form.get("id", ""))
        if referral is None:
            flash("Record does not exist.", "error")
            return redirect(self.get_url(".index_view"))
        referral_id = referral.id
        db.session.commit()
        try:
            booked = courses.book_course(db.session, referral_id, _sessions_from_form())
            audit.record(
                db.session,
                "create",
                entity="Referral",
                entity_id=referral_id,
                detail=f"course of {len(booked.appointments)} sessions booked in the console",
                changes={"appointments": [a.external_id for a in booked.appointments]},
            )
        except DomainError as error:
            db.session.rollback()
            flash(f"Course not booked: {error.message}", "error")
        else:
            db.session.commit()
            flash(f"Course of {len(booked.appointments)} sessions booked.", "success")
        return redirect(self.get_url(".details_view", id=referral_id) + "#course")


def _proposal_args() -> dict[str, Any]:
    args = request.args
    start = args.get("from", "")
    try:
        start_day = dt.date.fromisoformat(start) if start else None
    except ValueError:
        start_day = None
    values: dict[str, Any] = {"start_day": start_day}
    for name in ("sessions", "duration"):
        number = args.get(name, type=int)
        if number is not None:
            values[name] = number
    return values


def _sessions_from_form() -> list[courses.CourseSession]:
    """The proposal's sessions as the "Book course" form carries them (hidden fields)."""
    form = request.form
    fields = ("external_id", "room_id", "staff_id", "starts_at", "ends_at")
    columns = [form.getlist(name) for name in fields]
    try:
        return [
            courses.CourseSession(
                external_id=external_id,
                room_id=int(room_id),
                staff_id=int(staff_id),
                starts_at=dt.datetime.fromisoformat(starts_at),
                ends_at=dt.datetime.fromisoformat(ends_at),
            )
            for external_id, room_id, staff_id, starts_at, ends_at in zip(*columns, strict=True)
        ]
    except ValueError:
        return []  # a tampered form: book_course refuses an empty course


def _names(model: Any, ids: set[int]) -> dict[int, str]:
    return dict(db.session.execute(sa.select(model.id, model.name).where(model.id.in_(ids))).all())
