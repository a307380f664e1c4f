"""The compliance page (/admin/compliance/): active clinicians × the locations they work at, eligible
for infusions and consults today and still in 30 and 60 days, and what is missing.

Computed by :func:`opsadmin.staff.compliance.compliance_matrix` (the eligibility rules bookings are
checked against); this view parses the filters, scopes them to the user's regions and presents.
"""

from __future__ import annotations

import datetime as dt

from flask import request
from flask_admin import expose

from opsadmin.console import SecureView, user_region_ids
from opsadmin.extensions import db
from opsadmin.staff.compliance import (
    COMPLIANCE_KINDS,
    HORIZONS,
    compliance_matrix,
    describe_gap,
    visible_locations,
)


class ComplianceView(SecureView):
    @expose("/")
    def index(self):
        region = (request.args.get("region") or "").strip() or None
        location = (request.args.get("location") or "").strip() or None
        locations = visible_locations(db.session, user_region_ids())
        rows = compliance_matrix(
            db.session, dt.date.today(), locations, region=region, location=location
        )
        regions = {site.region.code: site.region for site in locations}
        return self.render(
            "admin/compliance.html",
            rows=rows,
            kinds=COMPLIANCE_KINDS,
            horizons=HORIZONS,
            describe_gap=describe_gap,
            regions=[regions[code] for code in sorted(regions)],
            locations=locations,
            region=region,
            location=location,
            flagged=sum(1 for row in rows if row.flagged),
        )


def admin_views() -> list:
    return [
        ComplianceView(
            name="Compliance", category="Staff", endpoint="admin_compliance", url="compliance"
        )
    ]
