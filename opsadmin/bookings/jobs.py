"""The daily bookings-at-risk job: what the calendar changes, judged; the news e-mailed once.

Writes are judged as they happen (:mod:`opsadmin.bookings.risk`); what no write announces is an
expiry date passing, and rows loaded past the ORM (bulk imports, the demo seed). Once a day
:func:`judge_calendar` re-judges the future bookings of every clinician and site holding a
credential or registration that expires between a week ago and the horizon of the booked
calendar, and forgets the verdicts of bookings that have happened or ended. Then
:func:`notify_bookings_at_risk` e-mails each region's operations managers the (booking, reason)
pairs not e-mailed before — booking id, site, local date and time, reason; never a patient — and
marks them, so the same booking is not announced again for the same reason the next day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from html import escape
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from opsadmin.audit.service import SYSTEM, acting_as
from opsadmin.auth.models import User
from opsadmin.bookings import risk
from opsadmin.bookings.models import ACTIVE_STATUSES, Appointment, AppointmentRisk
from opsadmin.config import setting
from opsadmin.db import utcnow
from opsadmin.extensions import db
from opsadmin.locations.models import Location, Region, SiteRegistration
from opsadmin.locations.service import zone
from opsadmin.notifications.mail import Mail, MailSettings, build_message, send
from opsadmin.staff.models import Credential

LOOK_BACK = dt.timedelta(days=7)  # expiries this recent are re-judged (a missed run or two)


def judge_calendar(session: Session) -> int:
    """Re-judge the future bookings an expiry date can touch; return how many are at risk."""
    now = utcnow()
    _forget_the_past(session, now)
    horizon = session.scalar(
        sa.select(sa.func.max(Appointment.starts_at)).where(
            Appointment.status.in_(ACTIVE_STATUSES), Appointment.starts_at >= now
        )
    )
    if horizon is None:
        return 0
    since, until = (now - LOOK_BACK).date(), horizon.date() + dt.timedelta(days=1)
    staff = session.scalars(
        sa.select(Credential.staff_id).distinct().where(Credential.expires_on.between(since, until))
    )
    sites = session.scalars(
        sa.select(SiteRegistration.location_id)
        .distinct()
        .where(SiteRegistration.expires_on.between(since, until))
    )
    scopes = [risk.Scope("staff_id", s) for s in staff] + [
        risk.Scope("location_id", s) for s in sites
    ]
    verdicts = risk.judge(session, risk.affected(session, scopes))
    risk.store(session, verdicts)
    return sum(1 for reasons in verdicts.values() if reasons)


def _forget_the_past(session: Session, now: dt.datetime) -> None:
    over = sa.select(Appointment.id).where(
        sa.or_(Appointment.starts_at < now, Appointment.status.not_in(ACTIVE_STATUSES))
    )
    session.execute(sa.delete(AppointmentRisk).where(AppointmentRisk.appointment_id.in_(over)))


def news_by_region(session: Session) -> dict[int, list[dict[str, Any]]]:
    """The (booking, reason) pairs at risk and not yet e-mailed, per region, soonest first."""
    rows = session.execute(
        sa.select(
            Location.region_id, Appointment.id, Appointment.external_id, Location.code,
            Location.timezone, Appointment.starts_at, AppointmentRisk.reason,
        )
        .join(Appointment, Appointment.id == AppointmentRisk.appointment_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(
            AppointmentRisk.notified_at.is_(None),
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at >= utcnow(),
        )
        .order_by(Appointment.starts_at, Appointment.id, AppointmentRisk.reason)
    )  # fmt: skip
    news: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for region_id, appointment_id, external_id, code, timezone, starts_at, reason in rows:
        local = starts_at.astimezone(zone(timezone))
        news[region_id].append(
            {
                "appointment_id": appointment_id,
                "external_id": external_id,
                "location": code,
                "date": local.date().isoformat(),
                "time": f"{local:%H:%M %Z}",
                "reason": reason,
            }
        )
    return news


def ops_managers(session: Session, region_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(User.email)
            .where(
                User.role == "ops_manager",
                User.active.is_(True),
                User.regions.any(Region.id == region_id),
            )
            .order_by(User.email)
        )
    )


def render_notice(
    region: Region, items: list[dict[str, Any]], base_url: str
) -> tuple[str, str, str]:
    """Subject, text and HTML: ids, sites, dates, reasons and a console link; no patient data."""
    subject = f"Bookings at risk {region.code}: {len({i['appointment_id'] for i in items})} new"
    link = f"{base_url}/admin/at-risk/"
    lines = [
        f"{i['external_id']}  {i['location']}  {i['date']} {i['time']}  {i['reason']}"
        for i in items
    ]
    text = "\n".join([subject, "", *lines, "", f"Console: {link}", ""])
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(i[k]))}</td>" for k in ("external_id", "location", "date", "time")
        )
        + f"<td>{escape(i['reason'].replace('_', ' '))}</td></tr>"
        for i in items
    )
    html = (
        f"<h2>{escape(subject)}</h2><table><tr><th>Booking</th><th>Site</th><th>Date</th>"
        f"<th>Time</th><th>Reason</th></tr>{cells}</table>"
        f'<p><a href="{escape(link)}">Open the bookings at risk in the console</a></p>'
    )
    return subject, text, html


def notify_bookings_at_risk(session: Session, settings: MailSettings, base_url: str) -> int:
    """E-mail each region's ops managers its new bookings at risk, once; return messages sent."""
    sent = 0
    for region_id, items in news_by_region(session).items():
        recipients = ops_managers(session, region_id)
        if not recipients:
            continue  # announced once someone manages the region
        region = session.get(Region, region_id)
        subject, text, html = render_notice(region, items, base_url)
        key = hashlib.sha256(
            repr(sorted((i["appointment_id"], i["reason"]) for i in items)).encode()
        )
        for recipient in recipients:
            mail = Mail(
                subject=subject, to=recipient, text=text, html=html,
                message_id=f"<at-risk-{region.code}-{key.hexdigest()[:16]}-"
                f"{hashlib.sha256(recipient.encode()).hexdigest()[:8]}@opsadmin>",
                headers={"X-Opsadmin-Region": region.code},
            )  # fmt: skip
            send(build_message(mail, settings), settings)
            sent += 1
        _mark_notified(session, items)
    return sent


def _mark_notified(session: Session, items: list[dict[str, Any]]) -> None:
    table = AppointmentRisk.__table__
    pairs = sorted({(i["appointment_id"], i["reason"]) for i in items})
    session.execute(
        table.update()
        .where(sa.tuple_(table.c.appointment_id, table.c.reason).in_(pairs))
        .values(notified_at=utcnow())
    )


def check_bookings_at_risk() -> int:
    """The daily job: judge what the calendar changed, commit, e-mail the news once, commit."""
    with acting_as(SYSTEM):
        judge_calendar(db.session)
        db.session.commit()
        settings = MailSettings.from_config(current_app.config)
        base_url = str(setting("OPSADMIN_BASE_URL")).rstrip("/")
        sent = notify_bookings_at_risk(db.session, settings, base_url)
        db.session.commit()
    return sent
