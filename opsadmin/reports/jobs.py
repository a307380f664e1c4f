"""The reports' jobs: plain functions of ids and primitives, run inside an app context.

:func:`opsadmin.jobs.enqueue` queues them (RQ, or in-process when REDIS_URL is unset); the
worker runs them in its app context. Each job loads by id, calls the service, commits, and
records the outcome; an exception is re-raised after the outcome is committed so RQ retries it
with back-off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time

import sqlalchemy as sa
from flask import current_app

from opsadmin.audit.service import SYSTEM, acting_as, record
from opsadmin.auth.models import User
from opsadmin.db import utcnow
from opsadmin.extensions import db
from opsadmin.jobs import EMAIL, REPORTS, enqueue
from opsadmin.locations.models import Region
from opsadmin.notifications.mail import (
    Attachment,
    InlineImage,
    Mail,
    MailSettings,
    build_message,
    send,
)
from opsadmin.reports import service
from opsadmin.reports.followup import credential_changes
from opsadmin.reports.models import ReportDelivery, ReportRun
from opsadmin.reports.render import render_credentials, subject_of

log = logging.getLogger(__name__)


def current_job_id() -> str:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else f"inline-{os.getpid()}-{time.monotonic_ns()}"


def dispatch_reports(now: str | None = None) -> list[int]:
    """Hourly: record every due run (catching up missed Mondays), re-enqueue stuck ones."""
    with acting_as(SYSTEM):
        run_ids = service.dispatch(db.session, dt.datetime.fromisoformat(now) if now else None)
        db.session.commit()
    for run_id in run_ids:
        enqueue(REPORTS, run_report, run_id)
    return run_ids


def _build(run_id: int) -> None:
    run = service.get_run(db.session, run_id)
    figures, artefacts = service.build_artefacts(db.session, run.kind, run.region.code, run.week)
    service.store_build(db.session, run, figures, artefacts)


def _claim_and_build(run_id: int, job_id: str) -> str:
    """Build the run if this job wins the claim; the run's status afterwards."""
    claimed = service.claim_run(db.session, run_id, job_id)
    db.session.commit()
    if claimed:
        try:
            _build(run_id)
        except Exception as error:
            db.session.rollback()
            service.fail_run(db.session, run_id, f"{type(error).__name__}: {error}")
            db.session.commit()
            raise
        db.session.commit()
    return db.session.scalar(sa.select(ReportRun.status).where(ReportRun.id == run_id))


def run_report(run_id: int) -> str:
    """Claim → build → store → one delivery per lead → enqueue the sends. Safe to run twice."""
    with acting_as(SYSTEM):
        status = _claim_and_build(run_id, current_job_id())
    if status != "built":
        return f"run {run_id}: {status}, nothing to do"
    return _send_all(run_id)


def _send_all(run_id: int) -> str:
    pending = service.unsent_deliveries(db.session, run_id)
    db.session.commit()
    for delivery_id, generation in pending:
        enqueue(EMAIL, send_delivery, delivery_id, generation)
    with acting_as(SYSTEM):
        service.finish_if_delivered(db.session, run_id)
        db.session.commit()
    return f"run {run_id}: built, {len(pending)} deliveries enqueued"


def report_mail(run: ReportRun, delivery: ReportDelivery) -> Mail:
    """The e-mail of one delivery: HTML with each chart inline once, text, the CSV attached."""
    stem = f"{run.kind}-{run.region.code}-{run.week}"
    return Mail(
        subject=subject_of(run.figures or {"kind": run.kind, "week": run.week}),
        to=delivery.recipient,
        text=run.text or "",
        html=run.html,
        message_id=service.message_id(delivery),
        headers={"X-Opsadmin-Region": run.region.code, "X-Opsadmin-Report": stem},
        inline_images=[InlineImage(c.cid, c.png) for c in service.stored_charts(run)],
        attachments=[Attachment(f"{stem}.csv", (run.csv or "").encode(), "text", "csv")],
    )


def send_delivery(delivery_id: int, generation: int) -> str:
    """Send one lead their report: claimed first, marked sent once the server accepted it."""
    with acting_as(SYSTEM):
        claimed = service.claim_delivery(db.session, delivery_id, generation)
        db.session.commit()
        if not claimed:
            return f"delivery {delivery_id}: not ours to send"
        delivery = db.session.get(ReportDelivery, delivery_id)
        settings = MailSettings.from_config(current_app.config)
        try:
            send(build_message(report_mail(delivery.run, delivery), settings), settings)
        except Exception as error:
            db.session.rollback()
            service.mark_delivery_failed(
                db.session, delivery_id, f"{type(error).__name__}: {error}"
            )
            db.session.commit()
            raise
        service.mark_delivery_sent(db.session, delivery)
        run_id = delivery.run_id
        db.session.commit()
        service.finish_if_delivered(db.session, run_id)
        db.session.commit()
    return f"delivery {delivery_id}: sent"


# -- daily credential expiry -----------------------------------------------------------------


def ops_managers(region_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(User.email)
            .where(
                User.role == "ops_manager",
                User.active.is_(True),
                User.regions.any(Region.id == region_id),
            )
            .order_by(User.email)
        )
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _already_notified(key: str) -> bool:
    from opsadmin.audit.models import AuditEvent

    found = db.session.scalar(
        sa.select(AuditEvent.id).where(
            AuditEvent.action == "sent",
            AuditEvent.entity == "CredentialNotice",
            AuditEvent.entity_id == key,
        )
    )
    return found is not None


def notify_credential_expiry(on: str | None = None) -> int:
    """Daily: e-mail each region's ops managers the credentials entering the warning window or
    expiring today. Once per (region, day, recipient), recorded in the audit log."""
    day = dt.date.fromisoformat(on) if on else utcnow().date()
    settings = MailSettings.from_config(current_app.config)
    sent = 0
    with acting_as(SYSTEM):
        for region in db.session.scalars(sa.select(Region).order_by(Region.code)):
            figures = credential_changes(db.session, region, day)
            if not figures["staff_credentials"] and not figures["site_registrations"]:
                continue
            subject, html, text = render_credentials(figures)
            for recipient in ops_managers(region.id):
                key = f"{region.code}:{day}:{recipient}"[:64]
                if _already_notified(key):
                    continue
                mail = Mail(
                    subject=subject,
                    to=recipient,
                    text=text,
                    html=html,
                    message_id=f"<credentials-{region.code}-{day}-{_digest(recipient)}@opsadmin>",
                    headers={"X-Opsadmin-Region": region.code},
                )
                send(build_message(mail, settings), settings)
                record(db.session, "sent", entity="CredentialNotice", entity_id=key, detail=subject)
                db.session.commit()
                sent += 1
    return sent


# -- the command line ------------------------------------------------------------------------


def run_from_cli(kind: str, region_code: str, week: str, send_now: bool) -> str:
    """``opsadmin reports run``: print the report, or with ``send_now`` build it through the
    ledger and send it in-process to every lead who does not have it yet (never a resend)."""
    if not send_now:
        return service.build_artefacts(db.session, kind, region_code, week)[1].text
    with acting_as(SYSTEM):
        region = service.get_region(db.session, region_code)
        run = service.ensure_run(db.session, kind, region, week, "cli")
        db.session.commit()
        status = _claim_and_build(run.id, current_job_id())
        if status not in ("built", "sent"):
            return f"{kind} {region_code} {week}: {status} (being built elsewhere); nothing sent"
        pending = service.add_new_recipients(db.session, run.id)
        db.session.commit()
    for delivery_id, generation in pending:
        send_delivery(delivery_id, generation)
    db.session.expire_all()
    run = service.get_run(db.session, run.id)
    return f"{kind} {region_code} {week}: {run.status}; sent to {len(pending)} recipient(s) now"
