"""The console's home: this week's utilisation by site, credentials, referrals, recent report runs.

Every figure is scoped to the user's regions and links to the list behind it. All the
figures come from the report builders (``opsadmin.reports.utilisation`` and ``followup``), so
the dashboard and the weekly e-mails cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_admin import expose
from markupsafe import Markup, escape
from werkzeug.routing import BuildError

from opsadmin.console import SecureIndexView, user_region_ids
from opsadmin.extensions import db
from opsadmin.locations.models import Region
from opsadmin.reports import followup, utilisation
from opsadmin.reports.models import ReportRun
from opsadmin.reports.weeks import shift_week, week_of


def link(endpoint: str, **params: Any) -> str | None:
    """The URL of a console page, or None when that view is not part of the console."""
    try:
        return url_for(endpoint, **params)
    except BuildError:
        return None


def filter_link(endpoint: str, filters: dict[str, str]) -> str | None:
    """The list of view ``endpoint`` filtered by its filters labelled as ``filters``' keys
    (label → value); the unfiltered list when the view lacks one of them."""
    admin = current_app.extensions.get("opsadmin_admin")
    for view in getattr(admin, "_views", []):
        if view.endpoint != endpoint or not getattr(view, "_filter_args", None):
            continue
        keys: dict[str, str] = {}
        for key, (_index, flt) in view._filter_args.items():
            keys.setdefault(str(flt.name), key)  # the first operation of a label, e.g. "equals"
        if all(name in keys for name in filters):
            params = {
                f"flt{position}_{keys[name]}": value
                for position, (name, value) in enumerate(filters.items())
            }
            return link(f"{endpoint}.index_view", **params)
    return link(f"{endpoint}.index_view")


def dashboard_regions(session: Any, region_ids: set[int] | None) -> list[Region]:
    query = sa.select(Region).order_by(Region.code)
    if region_ids is not None:
        query = query.where(Region.id.in_(region_ids or {-1}))
    return list(session.scalars(query))


# -- utilisation (the weekly report's builder) --------------------------------------------------
@dataclass
class SiteUtilisation:
    code: str
    name: str
    this_week: float | None
    last_week: float | None
    dea_lapsed: bool = False
    link: str | None = None


def site_utilisation(session: Any, region_ids: set[int] | None, week: str) -> list[SiteUtilisation]:
    """This week beside last week per site, from the same builder as the weekly e-mail."""
    current = utilisation.utilisation_by_site(session, week, region_ids)
    previous = {
        site["code"]: site["utilisation"]
        for site in utilisation.utilisation_by_site(session, shift_week(week, -1), region_ids)
    }
    return [
        SiteUtilisation(
            site["code"],
            site["name"],
            site["utilisation"],
            previous.get(site["code"]),
            site["dea_lapsed"],
            link("admin_locations.index_view", search=site["code"]),
        )
        for site in current
    ]


def utilisation_chart(rows: list[SiteUtilisation]) -> Markup:
    """A grouped bar chart (this week beside last week) as inline SVG: no request leaves the page."""
    bar, gap, top, height = 18, 22, 20, 160
    width = max(320, 60 + len(rows) * (2 * bar + gap))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" id="utilisation-chart" '
        f'width="{width}" height="{height + top + 40}" viewBox="0 0 {width} {height + top + 40}">',
        "<title>Utilisation by site: this week and last week</title>",
        f'<line x1="40" y1="{top + height}" x2="{width - 10}" y2="{top + height}" stroke="#6c757d"/>',
    ]
    for pct in (0, 50, 100):
        y = top + height - height * pct / 100
        parts.append(f'<text x="34" y="{y + 4:.1f}" font-size="10" text-anchor="end">{pct}%</text>')
    for index, row in enumerate(rows):
        parts.extend(_bars(row, 50 + index * (2 * bar + gap), bar, top, height))
    parts.append(
        f'<rect x="{width - 170}" y="2" width="10" height="10" fill="#0d6efd"/>'
        f'<text x="{width - 156}" y="11" font-size="10">this week</text>'
        f'<rect x="{width - 95}" y="2" width="10" height="10" fill="#adb5bd"/>'
        f'<text x="{width - 81}" y="11" font-size="10">last week</text></svg>'
    )
    return Markup("".join(parts))


def _bars(row: SiteUtilisation, x: int, bar: int, top: int, height: int) -> list[str]:
    parts = []
    for offset, value, colour, label in (
        (0, row.last_week, "#adb5bd", "last week"),
        (bar, row.this_week, "#0d6efd", "this week"),
    ):
        value = min(max(value or 0.0, 0.0), 1.0)
        h = height * value
        parts.append(
            f'<rect class="bar" x="{x + offset}" y="{top + height - h:.1f}" width="{bar - 2}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(row.code)} {label}: '
            f"{value:.0%}</title></rect>"
        )
    parts.append(
        f'<text x="{x + bar}" y="{top + height + 14}" font-size="11" text-anchor="middle">'
        f"{escape(row.code)}</text>"
    )
    return parts


# -- credentials, referrals (the follow-up digest's builders) -----------------------------------
@dataclass
class CredentialCounts:
    staff_expiring: int = 0
    staff_expired: int = 0
    site_expiring: int = 0
    site_expired: int = 0
    links: dict[str, str | None] = field(default_factory=dict)


def credential_counts(session: Any, regions: list[Region], today: dt.date) -> CredentialCounts:
    """Distinct staff credentials and site registrations expiring or expired, over the regions."""
    staff: dict[int, str] = {}
    sites: dict[int, str] = {}
    for region in regions:
        for row in followup.staff_credentials(session, region.id, today):
            staff[row["credential_id"]] = row["status"]
        for row in followup.site_registrations(session, region.id, today):
            sites[row["registration_id"]] = row["status"]
    statuses = list(staff.values()), list(sites.values())
    return CredentialCounts(
        staff_expiring=statuses[0].count("expiring"),
        staff_expired=statuses[0].count("expired"),
        site_expiring=statuses[1].count("expiring"),
        site_expired=statuses[1].count("expired"),
        links={
            "staff_expiring": filter_link("admin_credentials", {"Status": "expiring"}),
            "staff_expired": filter_link("admin_credentials", {"Status": "expired"}),
            "site_expiring": filter_link("admin_site_registrations", {"Status": "expiring"}),
            "site_expired": filter_link("admin_site_registrations", {"Status": "expired"}),
        },
    )


def referral_funnel(session: Any, regions: list[Region], today: dt.date) -> list[tuple[str, int]]:
    """The 90-day funnel summed over the user's regions' sites."""
    totals = dict.fromkeys(followup.FUNNEL, 0)
    for region in regions:
        for row in followup.funnel(session, region.id, today):
            for stage in totals:
                totals[stage] += row[stage]
    return list(totals.items())


def stalled_by_stage(session: Any, regions: list[Region], today: dt.date) -> list[tuple[str, int]]:
    ids: dict[str, set[int]] = {stage: set() for stage in followup.STALLED_STAGES}
    for region in regions:
        for stage, found in followup.stalled(session, region.id, today).items():
            ids.setdefault(stage, set()).update(found)
    return [(stage, len(found)) for stage, found in ids.items()]


# -- report runs -----------------------------------------------------------------------------------
def recent_runs(session: Any, region_ids: set[int] | None, limit: int = 8) -> list[ReportRun]:
    query = sa.select(ReportRun).order_by(ReportRun.created_at.desc()).limit(limit)
    if region_ids is not None:
        query = query.where(ReportRun.region_id.in_(region_ids or {-1}))
    return list(session.scalars(query))


class DashboardView(SecureIndexView):
    """The console's home page."""

    @expose("/")
    def index(self):
        session = db.session
        region_ids = user_region_ids()
        regions = dashboard_regions(session, region_ids)
        today = dt.date.today()
        week = week_of(today)
        sites = site_utilisation(session, region_ids, week)
        return self.render(
            "admin/console_dashboard.html",
            week=week,
            sites=sites,
            chart=utilisation_chart(sites) if sites else None,
            credentials=credential_counts(session, regions, today),
            funnel=referral_funnel(session, regions, today),
            stalled=[
                (stage, count, filter_link("admin_referrals", {"Stalled": "1", "Status": stage}))
                for stage, count in stalled_by_stage(session, regions, today)
            ],
            referrals_link=link("admin_referrals.index_view"),
            runs=recent_runs(session, region_ids),
            runs_link=link("admin_report_runs.index_view"),
            run_link=lambda run: link("admin_report_runs.details_view", id=run.id),
        )
