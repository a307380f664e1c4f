"""The follow-up digest's "Bookings at risk": per site and reason, how many future bookings the
stored verdicts hold at risk, with their booking ids (never a patient).

Read from the verdicts :mod:`opsadmin.bookings.risk` stores, in one statement: counted in SQL per
(site, reason), the first few booking ids of each picked by a window function, so the cost grows
with the bookings at risk, not with the table. The same bookings as the console's at-risk page
(future, booked or checked in), which the e-mail links to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.bookings.models import ACTIVE_STATUSES, RISK_REASONS, Appointment, AppointmentRisk
from opsadmin.links import external_url
from opsadmin.locations.models import Location

LISTED = 10  # booking ids listed per site and reason; the rest are counted (the link lists all)


def bookings_at_risk(session: Session, region_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    """``[{"location", "reason", "count", "bookings": [{"appointment_id", "external_id"}]}]``
    for the region's sites, by site code then in the order of the reasons."""
    partition = (Location.code, AppointmentRisk.reason)
    ranked = (
        sa.select(
            Location.code.label("location"),
            AppointmentRisk.reason.label("reason"),
            Appointment.id.label("appointment_id"),
            Appointment.external_id.label("external_id"),
            sa.func.count().over(partition_by=partition).label("count"),
            sa.func.row_number()
            .over(partition_by=partition, order_by=(Appointment.starts_at, Appointment.id))
            .label("rank"),
        )
        .join(Appointment, Appointment.id == AppointmentRisk.appointment_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(
            Location.region_id == region_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at >= now,
        )
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked)
        .where(ranked.c.rank <= LISTED)
        .order_by(ranked.c.location, ranked.c.reason, ranked.c.rank)
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        item = found.setdefault(
            (row.location, row.reason),
            {"location": row.location, "reason": row.reason, "count": row.count, "bookings": []},
        )
        item["bookings"].append(
            {"appointment_id": row.appointment_id, "external_id": row.external_id}
        )
    return sorted(found.values(), key=lambda i: (i["location"], RISK_REASONS.index(i["reason"])))


def at_risk_page(location: str, reason: str) -> str:
    """The console's list of the site's bookings at risk for ``reason`` (all of them)."""
    return external_url("admin_at_risk.index", location=location, reason=reason)


def csv_rows(f: dict[str, Any]) -> list[list[Any]]:
    """``at_risk, site, reason, count, booking ids`` rows of the digest's CSV."""
    return [
        ["at_risk", i["location"], i["reason"], i["count"],
         " ".join(b["external_id"] for b in i["bookings"])]
        for i in f.get("bookings_at_risk", [])
    ]  # fmt: skip
