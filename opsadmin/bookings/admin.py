"""Console views of the bookings feature: appointments, read-only, and the bookings at risk.

The booking system owns appointments (it pushes them through the API, where every booking rule is
checked), so the console lists and shows them but never creates, edits or deletes one. Rows are
scoped by their location's region like every other console view.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request, url_for
from flask_admin import BaseView, expose
from markupsafe import Markup

from opsadmin.bookings import risk
from opsadmin.bookings.models import RISK_REASONS, Appointment
from opsadmin.console import SecureModelView, SecureView, board_link, user_region_ids
from opsadmin.extensions import db
from opsadmin.locations.models import Location
from opsadmin.locations.service import local_date, zone


def site_time(view: Any, context: Any, model: Appointment, name: str) -> str:
    """The appointment as the site's clock shows it, e.g. ``Sat 05 Dec 12:30–13:30 EST``: a
    manager thinks in the clinic's hours, the UTC columns beside it are what the API exchanges."""
    tz = zone(model.location.timezone)
    starts, ends = model.starts_at.astimezone(tz), model.ends_at.astimezone(tz)
    return f"{starts:%a %d %b %H:%M}–{ends:%H:%M} {starts:%Z}"


def referral_link(view: Any, context: Any, model: Appointment, name: str) -> Markup | str:
    if model.referral_id is None:
        return ""
    href = url_for("admin_referrals.details_view", id=model.referral_id)
    return Markup('<a href="{}">#{}</a>').format(href, model.referral_id)


def appointment_board(view: Any, context: Any, model: Appointment, name: str) -> Markup:
    """The site's day board on the appointment's local day."""
    return board_link(model.location.code, local_date(model.location, model.starts_at))


class AppointmentView(SecureModelView):
    can_create = False
    can_edit = False
    can_delete = False
    # patient_ref is an opaque id, yet a bulk export of who came when is not an operations need.
    can_export = False
    column_list = (
        "external_id",
        "location.code",
        "room.name",
        "staff.name",
        "kind",
        "indication",
        "site_time",
        "starts_at",
        "ends_at",
        "status",
        "referral_id",
        "board",
    )
    column_details_list = column_list[:4] + (
        "patient_ref",
        "kind",
        "indication",
        "site_time",
        "starts_at",
        "ends_at",
        "status",
        "referral_id",
        "created_at",
        "updated_at",
        "board",
    )
    column_labels = {
        "external_id": "Booking id",
        "location.code": "Location",
        "room.name": "Room",
        "staff.name": "Clinician",
        "starts_at": "Starts (UTC)",
        "ends_at": "Ends (UTC)",
        "referral_id": "Referral",
        "site_time": "Site time",
    }
    column_formatters = {
        "site_time": site_time,
        "referral_id": referral_link,
        "board": appointment_board,
    }
    column_select_related_list = (Appointment.location, Appointment.room, Appointment.staff)
    column_searchable_list = ("external_id",)
    column_filters = ("location.code", "status", "kind", "starts_at")
    column_default_sort = ("starts_at", True)
    # Millions of rows: no COUNT(*) per page (a full index scan), just previous/next.
    simple_list_pager = True

    def scope_query(self, query: Any, region_ids: set[int]) -> Any:
        # A subquery, not a join: the location filter and sort join Location themselves.
        in_regions = sa.select(Location.id).where(Location.region_id.in_(region_ids or {-1}))
        return query.filter(Appointment.location_id.in_(in_regions))


class AtRiskView(SecureView):
    """Future bookings that today's rules would refuse, with why, filtered by site and reason,
    each linked to its site's day board."""

    @expose("/")
    def index(self):
        location = (request.args.get("location") or "").strip() or None
        reason = request.args.get("reason") if request.args.get("reason") in RISK_REASONS else None
        bookings = risk.at_risk_list(
            db.session, region_ids=user_region_ids(), location=location, reason=reason
        )
        sites = db.session.scalars(
            sa.select(Location.code).order_by(Location.code).where(_scope(Location))
        ).all()
        return self.render(
            "bookings/at_risk.html",
            rows=[_row(a) for a in bookings],
            sites=sites,
            reasons=RISK_REASONS,
            location=location or "",
            reason=reason or "",
        )


def _scope(model: Any) -> Any:
    region_ids = user_region_ids()
    return sa.true() if region_ids is None else model.region_id.in_(region_ids or {-1})


def _row(appointment: Appointment) -> dict[str, Any]:
    tz = zone(appointment.location.timezone)
    starts = appointment.starts_at.astimezone(tz)
    day = starts.date().isoformat()
    return {
        "external_id": appointment.external_id,
        "details": url_for("appointments.details_view", id=appointment.id),
        "location": appointment.location.code,
        "site_time": site_time(None, None, appointment, "site_time"),
        "room": appointment.room.name,
        "clinician": appointment.staff.name,
        "kind": appointment.kind,
        "status": appointment.status,
        "reasons": appointment.at_risk,
        "board": f"{url_for('admin.index')}board/?location={appointment.location.code}&date={day}",
    }


def admin_views() -> list[BaseView]:
    """The views the console shows for this feature, in menu order."""
    return [
        AppointmentView(
            Appointment,
            db,
            name="Appointments",
            category="Bookings",
            endpoint="appointments",
            url="appointments",
        ),
        AtRiskView(
            name="Bookings at risk", category="Bookings", endpoint="admin_at_risk", url="at-risk"
        ),
    ]
