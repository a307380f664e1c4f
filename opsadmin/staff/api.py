"""JSON API of staff: who works where and can take what, and HR/credentialing writes.

Views parse, call :mod:`opsadmin.staff.service` / :mod:`opsadmin.staff.eligibility` (every rule
lives there), commit and present.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from opsadmin.auth.apikeys import api_key_required
from opsadmin.config import setting
from opsadmin.extensions import db
from opsadmin.impact import bookings_at_risk, with_bookings_at_risk
from opsadmin.locations.service import get_location
from opsadmin.schemas import Blueprint, SelectPage
from opsadmin.staff import service
from opsadmin.staff.eligibility import eligible_staff
from opsadmin.staff.models import StaffMember, staff_location
from opsadmin.staff.schemas import (
    CredentialSchema,
    StaffCreateSchema,
    StaffQuerySchema,
    StaffSchema,
    StaffUpdateSchema,
    credential_view,
)

blp = Blueprint("staff", __name__, url_prefix="/api/v1/staff", description="Staff and credentials.")
blueprints: list[Blueprint] = [blp]


def staff_query() -> sa.Select:
    return sa.select(StaffMember).options(
        selectinload(StaffMember.locations), selectinload(StaffMember.credentials)
    )


def load_staff(staff_id: int) -> StaffMember:
    staff = db.session.scalar(staff_query().where(StaffMember.id == staff_id))
    if staff is None:
        service.get_staff(db.session, staff_id)  # raises NotFound with the service's message
    return staff


def filtered(query: sa.Select, args: dict[str, Any]) -> sa.Select:
    """Apply the list's filters; eligibility is asked of the eligibility module, in bulk."""
    if "role" in args:
        query = query.where(StaffMember.role == args["role"])
    if "location" in args:
        location = get_location(db.session, args["location"])
        query = query.where(
            StaffMember.id.in_(
                sa.select(staff_location.c.staff_id).where(
                    staff_location.c.location_id == location.id
                )
            )
        )
        if "eligible_on" in args:
            eligible = eligible_staff(db.session, location.id, args["eligible_on"], args["kind"])
            query = query.where(StaffMember.id.in_([s.id for s in eligible]))
    return query


@blp.route("")
class StaffList(MethodView):
    @api_key_required("read")
    @blp.arguments(StaffQuerySchema, location="query")
    @blp.response(200, StaffSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> sa.Select:
        """Staff by name; filter by location, role, and with ``eligible_on``+``kind`` (and
        ``location``) only those eligible for that kind there on that local date."""
        return filtered(staff_query().order_by(StaffMember.name, StaffMember.id), args)

    @api_key_required("admin")
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, StaffSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a staff member working at the given location codes."""
        staff = service.create_staff(db.session, **data)
        db.session.commit()
        staff_id = staff.id
        return load_staff(staff_id), 201, {"Location": url_for("staff.Staff", staff_id=staff_id)}


@blp.route("/<int:staff_id>", endpoint="Staff")
class StaffView(MethodView):
    @api_key_required("read")
    @blp.response(200, StaffSchema)
    def get(self, staff_id: int) -> StaffMember:
        """A staff member with their locations and credentials (status derived today)."""
        return load_staff(staff_id)

    @api_key_required("admin")
    @blp.arguments(StaffUpdateSchema)
    @blp.response(200, StaffSchema)
    def patch(self, data: dict[str, Any], staff_id: int) -> StaffMember:
        """Change the given fields; ``locations`` replaces the assignments."""
        service.update_staff(db.session, load_staff(staff_id), **data)
        db.session.commit()
        return with_bookings_at_risk(load_staff(staff_id))


@blp.route("/<int:staff_id>/credentials")
class StaffCredentials(MethodView):
    @api_key_required("admin")
    @blp.arguments(CredentialSchema)
    @blp.response(201, CredentialSchema)
    def post(self, data: dict[str, Any], staff_id: int) -> Any:
        """Record a credential (state required for state-issued kinds; expiry after issue)."""
        credential = service.add_credential(db.session, load_staff(staff_id), **data)
        db.session.commit()
        body = credential_view(
            credential, dt.date.today(), int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS"))
        ) | {"bookings_at_risk": bookings_at_risk(db.session)}
        return body, 201, {"Location": url_for("staff.Staff", staff_id=staff_id)}
