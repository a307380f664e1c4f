"""The console's home: this week's utilisation by site, credentials, referrals, recent report runs.

Every figure is scoped to the user's regions and links to the list behind it. Utilisation comes
from the weekly report's builder (``opsadmin.reports.utilisation``); every count is the row count
of the list it opens (``opsadmin.admin.figures``), through list filters that use the same service
conditions as the follow-up digest (stalled, funnel stages, renewals due).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_admin import expose
from markupsafe import Markup, escape

from opsadmin.admin.figures import Figure, ShownFigure, link, show
from opsadmin.admin.forecast_card import forecast_card
from opsadmin.console import SecureIndexView, user_region_ids
from opsadmin.extensions import db
from opsadmin.locations.scoping import scoped_regions
from opsadmin.referrals.service import FUNNEL
from opsadmin.reports import utilisation
from opsadmin.reports.courses import course_figures
from opsadmin.reports.followup import STALLED_STAGES
from opsadmin.reports.models import RUN_STATUSES, ReportRun
from opsadmin.reports.weeks import shift_week, week_of


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


# -- figures: each the row count of the list it opens (opsadmin.admin.figures) -----------------------
RENEWAL_STATUSES = ("expiring", "expired")


def credential_figures() -> dict[str, list[Figure]]:
    """Staff credentials and site registrations due for renewal, by status."""
    return {
        "staff": [
            Figure(f"staff-{s}", "admin_credentials", (("Renewal due", s),))
            for s in RENEWAL_STATUSES
        ],
        "site": [
            Figure(f"site-{s}", "admin_site_registrations", (("Status", s),))
            for s in RENEWAL_STATUSES
        ],
    }


def funnel_figures() -> list[Figure]:
    return [
        Figure(f"funnel-{stage}", "admin_referrals", (("Funnel stage", stage),)) for stage in FUNNEL
    ]


def stalled_figures() -> list[Figure]:
    return [
        Figure(f"stalled-{stage}", "admin_referrals", (("Stalled", "1"), ("Status", stage)))
        for stage in STALLED_STAGES
    ]


def run_figures() -> list[Figure]:
    return [
        Figure(f"runs-{status}", "admin_report_runs", (("Status", status),))
        for status in RUN_STATUSES
    ]


def shown(figures: list[Figure]) -> list[tuple[str, ShownFigure]]:
    """(stage or status, figure) pairs: the key after its first dash names it."""
    return [(figure.key.split("-", 1)[1], show(figure)) for figure in figures]


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
        today = dt.date.today()
        week = week_of(today)
        sites = site_utilisation(session, region_ids, week)
        return self.render(
            "admin/console_dashboard.html",
            week=week,
            sites=sites,
            chart=utilisation_chart(sites) if sites else None,
            credentials={
                kind: dict(shown(figures)) for kind, figures in credential_figures().items()
            },
            funnel=shown(funnel_figures()),
            stalled=shown(stalled_figures()),
            run_counts=[(status, f) for status, f in shown(run_figures()) if f.count],
            courses=course_figures(session, today, region_ids),
            runs=recent_runs(session, region_ids),
            runs_link=link("admin_report_runs.index_view"),
            run_link=lambda run: link("admin_report_runs.details_view", id=run.id),
            forecast=forecast_card(session, list(scoped_regions())),
        )
