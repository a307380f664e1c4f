"""The console's home: this week's utilisation by site, credentials, referrals, recent report runs.

Every figure is scoped to the user's regions and links to the list behind it. Utilisation comes
from the reports feature's builder (one source of truth with the weekly e-mail); until that
builder exists the panel says so instead of computing a second, different figure.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_admin import expose
from markupsafe import Markup, escape
from werkzeug.routing import BuildError

from opsadmin.auth.admin import SecureIndexView, user_region_ids
from opsadmin.extensions import db
from opsadmin.locations.models import Location, SiteRegistration
from opsadmin.referrals.models import Referral
from opsadmin.reports.models import ReportRun
from opsadmin.staff.models import Credential, StaffMember

REFERRAL_FUNNEL = (
    "received",
    "consult_scheduled",
    "consulted",
    "approved",
    "treatment_scheduled",
    "in_treatment",
    "completed",
)


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(week: str) -> str:
    monday = dt.date.fromisoformat(f"{week}-1")
    return iso_week(monday - dt.timedelta(days=7))


def link(endpoint: str, **params: Any) -> str | None:
    """The URL of a console list, or None when that view is not (yet) part of the console."""
    try:
        return url_for(endpoint, **params)
    except BuildError:
        return None


# -- utilisation (the reports feature's builder) --------------------------------------------------
@dataclass
class SiteUtilisation:
    code: str
    name: str
    this_week: float | None
    last_week: float | None
    link: str | None = None


def _utilisation_builder():
    """The reports feature's per-location utilisation function, once it exists."""
    for module_name, attr in (
        ("opsadmin.reports.service", "location_utilisation"),
        ("opsadmin.reports.utilisation", "location_utilisation"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        builder = getattr(module, attr, None)
        if builder is not None:
            return builder
    return None


def utilisation_by_site(
    session: Any, locations: list[Location], week: str
) -> list[SiteUtilisation] | None:
    builder = _utilisation_builder()
    if builder is None:
        return None
    rows = []
    for location in locations:
        this_week = builder(session, location.id, week)
        last_week = builder(session, location.id, previous_week(week))
        rows.append(
            SiteUtilisation(
                location.code,
                location.name,
                _ratio(this_week),
                _ratio(last_week),
                link("location.details_view", id=location.id),
            )
        )
    return rows


def _ratio(figures: Any) -> float | None:
    if figures is None:
        return None
    if isinstance(figures, dict):
        return figures.get("utilisation")
    return getattr(figures, "utilisation", figures)


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
        x = 50 + index * (2 * bar + gap)
        for offset, value, colour, label in (
            (0, row.last_week, "#adb5bd", "last week"),
            (bar, row.this_week, "#0d6efd", "this week"),
        ):
            value = min(max(value or 0.0, 0.0), 1.0)
            h = height * value
            parts.append(
                f'<rect x="{x + offset}" y="{top + height - h:.1f}" width="{bar - 2}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(row.code)} {label}: {value:.0%}</title></rect>'
            )
        parts.append(
            f'<text x="{x + bar}" y="{top + height + 14}" font-size="11" text-anchor="middle">{escape(row.code)}</text>'
        )
    parts.append(
        f'<rect x="{width - 170}" y="2" width="10" height="10" fill="#0d6efd"/><text x="{width - 156}" y="11" font-size="10">this week</text>'
        f'<rect x="{width - 95}" y="2" width="10" height="10" fill="#adb5bd"/><text x="{width - 81}" y="11" font-size="10">last week</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


# -- credentials -----------------------------------------------------------------------------------
@dataclass
class CredentialCounts:
    staff_expiring: int = 0
    staff_expired: int = 0
    site_expiring: int = 0
    site_expired: int = 0
    links: dict[str, str | None] = field(default_factory=dict)


def _staff_credentials(region_ids: set[int] | None):
    query = sa.select(sa.func.count(sa.distinct(Credential.id))).select_from(Credential)
    if region_ids is not None:
        query = (
            query.join(Credential.staff)
            .join(StaffMember.locations)
            .where(Location.region_id.in_(region_ids or {-1}))
        )
    return query


def _site_registrations(region_ids: set[int] | None):
    query = sa.select(sa.func.count(SiteRegistration.id)).join(SiteRegistration.location)
    if region_ids is not None:
        query = query.where(Location.region_id.in_(region_ids or {-1}))
    return query


def credential_counts(
    session: Any, region_ids: set[int] | None, today: dt.date, warning_days: int
) -> CredentialCounts:
    horizon = today + dt.timedelta(days=warning_days)
    staff, sites = _staff_credentials(region_ids), _site_registrations(region_ids)
    return CredentialCounts(
        staff_expiring=session.scalar(staff.where(Credential.expires_on.between(today, horizon))),
        staff_expired=session.scalar(staff.where(Credential.expires_on < today)),
        site_expiring=session.scalar(
            sites.where(SiteRegistration.expires_on.between(today, horizon))
        ),
        site_expired=session.scalar(sites.where(SiteRegistration.expires_on < today)),
        links={
            "staff": link("credential.index_view"),
            "sites": link("siteregistration.index_view"),
        },
    )


# -- referrals -------------------------------------------------------------------------------------
def _referral_scope(query: Any, region_ids: set[int] | None) -> Any:
    if region_ids is None:
        return query
    consult = sa.select(Location.id).where(Location.region_id.in_(region_ids or {-1}))
    return query.where(
        sa.or_(
            Referral.consult_location_id.in_(consult), Referral.treatment_location_id.in_(consult)
        )
    )


def referral_funnel(session: Any, region_ids: set[int] | None) -> list[tuple[str, int, str | None]]:
    query = _referral_scope(
        sa.select(Referral.status, sa.func.count()).group_by(Referral.status), region_ids
    )
    counts = {status: count for status, count in session.execute(query)}
    return [
        (status, counts.get(status, 0), link("referral.index_view", flt1_status_equals=status))
        for status in REFERRAL_FUNNEL
    ]


def stalled_referrals(
    session: Any, region_ids: set[int] | None, today: dt.date
) -> list[tuple[str, int]] | None:
    """Stalled referrals by stage, from the referrals feature's query once it exists."""
    try:
        module = importlib.import_module("opsadmin.referrals.service")
    except ImportError:
        return None
    query_stalled = getattr(module, "stalled_counts", None)
    if query_stalled is None:
        return None
    return list(query_stalled(session, region_ids=region_ids, on=today).items())


# -- report runs -----------------------------------------------------------------------------------
def recent_runs(session: Any, region_ids: set[int] | None, limit: int = 8) -> list[ReportRun]:
    query = sa.select(ReportRun).order_by(ReportRun.created_at.desc()).limit(limit)
    if region_ids is not None:
        query = query.where(ReportRun.region_id.in_(region_ids or {-1}))
    return list(session.scalars(query))


def scoped_locations(session: Any, region_ids: set[int] | None) -> list[Location]:
    query = sa.select(Location).where(Location.active.is_(True)).order_by(Location.code)
    if region_ids is not None:
        query = query.where(Location.region_id.in_(region_ids or {-1}))
    return list(session.scalars(query))


class DashboardView(SecureIndexView):
    """The console's home page."""

    @expose("/")
    def index(self):
        session = db.session
        region_ids = user_region_ids()
        today = dt.date.today()
        week = iso_week(today)
        sites = utilisation_by_site(session, scoped_locations(session, region_ids), week)
        return self.render(
            "admin/console_dashboard.html",
            week=week,
            sites=sites,
            chart=utilisation_chart(sites) if sites else None,
            credentials=credential_counts(
                session, region_ids, today, current_app.config["OPSADMIN_CREDENTIAL_WARNING_DAYS"]
            ),
            funnel=referral_funnel(session, region_ids),
            stalled=stalled_referrals(session, region_ids, today),
            runs=recent_runs(session, region_ids),
            runs_link=link("reportrun.index_view"),
        )
