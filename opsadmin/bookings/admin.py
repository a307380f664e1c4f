"""Console views of the bookings feature: appointments, read-only.

The booking system owns appointments (it pushes them through the API, where every booking rule is
checked), so the console lists and shows them but never creates, edits or deletes one. Rows are
scoped by their location's region like every other console view.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_admin import BaseView
from markupsafe import Markup

from opsadmin.bookings.models import Appointment
from opsadmin.console import SecureModelView, board_link
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
        )
    ]
