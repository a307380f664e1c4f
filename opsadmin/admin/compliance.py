"""The compliance page (/admin/compliance/): active clinicians × the locations they work at, eligible
for infusions and consults today and still in 30 and 60 days, and what is missing.

Computed by :func:`opsadmin.staff.compliance.compliance_matrix` (the eligibility rules bookings are
checked against); this view parses the filters, scopes them to the user's regions and presents.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import request
from flask_admin import expose

from opsadmin.auth.admin import SecureView, user_region_ids
from opsadmin.extensions import db
from opsadmin.locations.models import Location, Region
from opsadmin.staff.compliance import COMPLIANCE_KINDS, HORIZONS, compliance_matrix, describe_gap


class ComplianceView(SecureView):
    @expose("/")
    def index(self):
        region_ids = user_region_ids()
        region = (request.args.get("region") or "").strip() or None
        location = (request.args.get("location") or "").strip() or None
        rows = compliance_matrix(
            db.session, dt.date.today(), region_ids, region=region, location=location
        )
        return self.render(
            "admin/compliance.html",
            rows=rows,
            kinds=COMPLIANCE_KINDS,
            horizons=HORIZONS,
            describe_gap=describe_gap,
            regions=self._choices(Region, region_ids, Region.id),
            locations=self._choices(Location, region_ids, Location.region_id),
            region=region,
            location=location,
            flagged=sum(1 for row in rows if row.flagged),
        )

    @staticmethod
    def _choices(model, region_ids: set[int] | None, column) -> list:
        query = sa.select(model).order_by(model.code)
        if region_ids is not None:
            query = query.where(column.in_(region_ids or {-1}))
        return list(db.session.scalars(query))


def admin_views() -> list:
    return [
        ComplianceView(
            name="Compliance", category="Staff", endpoint="admin_compliance", url="compliance"
        )
    ]
