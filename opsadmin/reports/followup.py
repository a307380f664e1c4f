"""The follow-up digest (DESIGN §5) for a region as of a date: stalled referrals by stage,
follow-ups due or overdue, the 90-day funnel per location, expiring and expired credentials.

Every figure is a SQL aggregate or a short list of ids (only the rows that need attention):
no names and no patient_ref ever leave this module.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.bookings.models import Appointment
from opsadmin.config import setting
from opsadmin.errors import NotFound
from opsadmin.locations.models import Location, Region, SiteRegistration
from opsadmin.locations.service import (
    registration_due,
    registration_renewed,
    registration_status_sql,
)
from opsadmin.referrals import service as referral_service
from opsadmin.referrals.models import Referral
from opsadmin.referrals.service import stalled_filter
from opsadmin.reports.courses import course_figures
from opsadmin.staff.models import Credential, StaffMember, staff_location
from opsadmin.staff.service import credential_renewed, credential_status_sql, renewal_due

# Stage → the statuses that prove a referral reached it (defined with the referral rules).
FUNNEL = referral_service.FUNNEL
STALLED_STAGES = ("received", "consulted", "approved", "in_treatment")
# Where a stage's work happens: before the decision at the consult site, after it at the treatment site.
CONSULT_STAGES = ("received", "consult_scheduled", "consulted", "declined")


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def responsible_location_id() -> sa.ColumnElement[int]:
    return sa.case(
        (Referral.status.in_(CONSULT_STAGES), Referral.consult_location_id),
        else_=Referral.treatment_location_id,
    )


def stalled(session: Session, region_id: int, as_of: dt.date) -> dict[str, list[int]]:
    """Stalled referral ids per stage, at the site responsible for the stage."""
    rows = session.execute(
        sa.select(Referral.status, Referral.id)
        .join(Location, Location.id == responsible_location_id())
        .where(Location.region_id == region_id, stalled_filter(midnight(as_of)))
        .order_by(Referral.status, Referral.id)
    ).all()
    found: dict[str, list[int]] = {stage: [] for stage in STALLED_STAGES}
    for status, referral_id in rows:
        found.setdefault(status, []).append(referral_id)
    return found


def stalled_items(session: Session, region_id: int, as_of: dt.date) -> list[dict[str, Any]]:
    """The stalled referrals as digest items: stage, the site responsible for it and the days
    the referral has been in its stage; the longest-waiting first (one statement)."""
    rows = session.execute(
        sa.select(Referral.id, Referral.status, Referral.status_changed_at, Location.code)
        .join(Location, Location.id == responsible_location_id())
        .where(Location.region_id == region_id, stalled_filter(midnight(as_of)))
        .order_by(Referral.status_changed_at, Referral.id)
    ).all()
    return [
        {
            "referral_id": rid,
            "stage": status,
            "location": code,
            "days_in_stage": max((midnight(as_of) - changed_at).days, 0),
        }
        for rid, status, changed_at, code in rows
    ]


def follow_ups(session: Session, region_id: int, as_of: dt.date) -> list[dict[str, Any]]:
    """Follow-ups due within the window or overdue that have not happened yet, the most
    overdue first, with the treatment site and the days overdue (negative: days left)."""
    window = as_of + dt.timedelta(days=int(setting("OPSADMIN_FOLLOW_UP_WINDOW_DAYS")))
    done = (
        sa.select(Appointment.id)
        .where(
            Appointment.referral_id == Referral.id,
            Appointment.kind == "follow_up",
            Appointment.status == "completed",
        )
        .exists()
    )
    rows = session.execute(
        sa.select(Referral.id, Referral.follow_up_due_on, Location.code)
        .join(Location, Location.id == Referral.treatment_location_id)
        .where(
            Location.region_id == region_id,
            Referral.follow_up_due_on.is_not(None),
            Referral.follow_up_due_on <= window,
            ~done,
        )
        .order_by(Referral.follow_up_due_on, Referral.id)
    ).all()
    return [
        {
            "referral_id": rid,
            "location": code,
            "due_on": due.isoformat(),
            "overdue": due < as_of,
            "days_overdue": (as_of - due).days,
        }
        for rid, due, code in rows
    ]


def _reached(stage: str) -> sa.ColumnElement[int]:
    return sa.case((referral_service.funnel_reached(stage), 1), else_=0)


def funnel(session: Session, region_id: int, as_of: dt.date) -> list[dict[str, Any]]:
    """Referrals received in the last N days per consult location, and how far they got."""
    counts = {
        row[0]: row[1:]
        for row in session.execute(
            sa.select(Referral.consult_location_id, *[sa.func.sum(_reached(s)) for s in FUNNEL])
            .join(Location, Location.id == Referral.consult_location_id)
            .where(
                Location.region_id == region_id,
                referral_service.funnel_window(as_of, int(setting("OPSADMIN_FUNNEL_DAYS"))),
            )
            .group_by(Referral.consult_location_id)
        )
    }
    locations = session.execute(
        sa.select(Location.id, Location.code)
        .where(Location.region_id == region_id)
        .order_by(Location.code)
    ).all()
    rows = []
    for location_id, code in locations:
        values = [int(v or 0) for v in counts.get(location_id, (0,) * len(FUNNEL))]
        row = {"location": code, **dict(zip(FUNNEL, values, strict=True))}
        row["conversion"] = (
            round(row["started"] / row["consulted"], 4) if row["consulted"] else None
        )
        rows.append(row)
    return rows


def warning_days() -> int:
    return int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS"))


def staff_credentials(
    session: Session, region_id: int, as_of: dt.date, on_dates: list[dt.date] | None = None
) -> list[dict[str, Any]]:
    """Credentials of the region's active staff expiring within the window or expired (the latest
    of each kind and state only: a renewed license is not flagged); ``on_dates`` narrows the
    expiry to those dates (the daily job)."""
    in_region = (
        sa.select(staff_location.c.staff_id)
        .join(Location, Location.id == staff_location.c.location_id)
        .where(staff_location.c.staff_id == Credential.staff_id, Location.region_id == region_id)
        .exists()
    )
    if on_dates is None:
        due = renewal_due(as_of, warning_days())
    else:
        due = sa.and_(
            Credential.expires_on.in_(on_dates),
            StaffMember.active.is_(True),
            ~credential_renewed(),
        )
    rows = session.execute(
        sa.select(
            Credential.id,
            Credential.staff_id,
            StaffMember.name,
            Credential.kind,
            Credential.state,
            Credential.expires_on,
            credential_status_sql(as_of, warning_days()),
        )
        .join(StaffMember, StaffMember.id == Credential.staff_id)
        .where(due, in_region)
        .order_by(Credential.expires_on, Credential.id)
    ).all()
    sites = staff_sites(session, {row.staff_id for row in rows})
    return [
        {
            "credential_id": cid,
            "staff_id": staff_id,
            "staff_name": name,
            "sites": sites.get(staff_id, []),
            "kind": kind,
            "state": state,
            "expires_on": expires.isoformat(),
            "status": status,
            "days_left": (expires - as_of).days,
        }
        for cid, staff_id, name, kind, state, expires, status in rows
    ]


def _registration_due(as_of: dt.date, on_dates: list[dt.date] | None) -> Any:
    if on_dates is None:
        return registration_due(as_of, warning_days())
    return sa.and_(SiteRegistration.expires_on.in_(on_dates), ~registration_renewed())


def staff_sites(session: Session, staff_ids: set[int]) -> dict[int, list[str]]:
    """The codes of the sites each staff member works at (one statement)."""
    if not staff_ids:
        return {}
    found: dict[int, list[str]] = {}
    for staff_id, code in session.execute(
        sa.select(staff_location.c.staff_id, Location.code)
        .join(Location, Location.id == staff_location.c.location_id)
        .where(staff_location.c.staff_id.in_(staff_ids))
        .order_by(staff_location.c.staff_id, Location.code)
    ):
        found.setdefault(staff_id, []).append(code)
    return found


def site_registrations(
    session: Session, region_id: int, as_of: dt.date, on_dates: list[dt.date] | None = None
) -> list[dict[str, Any]]:
    """DEA registrations and state CSRs of the region's sites expiring within the window or expired."""
    rows = session.execute(
        sa.select(
            SiteRegistration.id,
            Location.code,
            Location.name,
            SiteRegistration.kind,
            SiteRegistration.state,
            SiteRegistration.expires_on,
            registration_status_sql(as_of, warning_days()),
        )
        .join(Location, Location.id == SiteRegistration.location_id)
        .where(Location.region_id == region_id, _registration_due(as_of, on_dates))
        .order_by(SiteRegistration.expires_on, Location.code)
    ).all()
    return [
        {
            "registration_id": rid,
            "location": code,
            "location_name": location_name,
            "kind": kind,
            "state": state,
            "expires_on": expires.isoformat(),
            "status": status,
            "days_left": (expires - as_of).days,
        }
        for rid, code, location_name, kind, state, expires, status in rows
    ]


def followup_for_region(
    session: Session, region_code: str, as_of: dt.date, week: str
) -> dict[str, Any]:
    """The follow-up digest of ``region_code`` as of ``as_of`` (the Monday after ``week``)."""
    region = session.scalar(sa.select(Region).where(Region.code == region_code))
    if region is None:
        raise NotFound(f"No region {region_code!r}.")
    items = stalled_items(session, region.id, as_of)
    stalled_ids: dict[str, list[int]] = {stage: [] for stage in STALLED_STAGES}
    for item in sorted(items, key=lambda i: i["referral_id"]):
        stalled_ids.setdefault(item["stage"], []).append(item["referral_id"])
    return {
        "kind": "followup",
        "week": week,
        "as_of": as_of.isoformat(),
        "region": {"code": region.code, "name": region.name},
        "stalled": stalled_ids,
        "stalled_items": items,
        "stalled_total": len(items),
        "follow_ups": follow_ups(session, region.id, as_of),
        "funnel": funnel(session, region.id, as_of),
        "staff_credentials": staff_credentials(session, region.id, as_of),
        "site_registrations": site_registrations(session, region.id, as_of),
        "courses": course_figures(session, as_of, {region.id}),
    }


def credential_changes(session: Session, region: Region, on: dt.date) -> dict[str, Any]:
    """For the daily job: credentials entering the warning window on ``on`` (they expire in
    exactly the window's days) and those that expired on ``on`` (good through the day before)."""
    entering = on + dt.timedelta(days=int(setting("OPSADMIN_CREDENTIAL_WARNING_DAYS")))
    expired = on - dt.timedelta(days=1)
    dates = [entering, expired]

    def label(item: dict[str, Any]) -> dict[str, Any]:
        change = (
            "expired" if item["expires_on"] == expired.isoformat() else "entering warning window"
        )
        return {**item, "change": change}

    return {
        "on": on.isoformat(),
        "region": {"code": region.code, "name": region.name},
        "staff_credentials": [label(c) for c in staff_credentials(session, region.id, on, dates)],
        "site_registrations": [label(c) for c in site_registrations(session, region.id, on, dates)],
    }
