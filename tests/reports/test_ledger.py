"""The ledger in embedded mode (jobs in-process, e-mail to the outbox): due runs, catch-up,
claims, deliveries, resend (DESIGN §7)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsadmin.extensions import db
from opsadmin.reports import jobs as report_jobs
from opsadmin.reports import service
from opsadmin.reports.models import ReportDelivery, ReportRun
from tests.reports.fixtures import TZ, WEEK, build_week

# Monday after WEEK (2026-W44 → 2 November 2026), 07:00 local = 12:00 UTC (EST).
MONDAY_0700 = dt.datetime(2026, 11, 2, 7, 0, tzinfo=TZ).astimezone(dt.UTC)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": None, "SMTP_HOST": None}


@pytest.fixture
def site(session):
    site = build_week()
    session.commit()
    return site


def outbox(app) -> list[email.message.EmailMessage]:
    folder = Path(app.config["OPSADMIN_OUTBOX_DIR"])
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def runs(session) -> list[ReportRun]:
    session.expire_all()
    return list(session.scalars(sa.select(ReportRun).order_by(ReportRun.kind, ReportRun.week)))


def test_nothing_is_due_before_monday_0700_local(session, site):
    service.dispatch(session, MONDAY_0700 - dt.timedelta(minutes=1))
    assert {r.week for r in runs(session)} == {"2026-W43"}


def test_dispatcher_records_both_reports_of_the_week_at_monday_0700(session, site):
    service.dispatch(session, MONDAY_0700)
    assert {(r.kind, r.week) for r in runs(session)} == {("followup", WEEK), ("utilisation", WEEK)}


def test_dispatch_sends_each_lead_one_message_per_report(app, session, site):
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    assert [r.status for r in runs(session)] == ["sent", "sent"]
    messages = outbox(app)
    assert sorted(m["To"] for m in messages) == sorted(
        ["lead1@example.org", "lead2@example.org"] * 2
    )


def test_dispatching_twice_builds_and_sends_once(app, session, site):
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    report_jobs.dispatch_reports((MONDAY_0700 + dt.timedelta(hours=1)).isoformat())
    assert len(runs(session)) == 2
    assert len(outbox(app)) == 4
    assert all(r.attempts == 1 for r in runs(session))


def test_running_a_run_twice_sends_nothing_more(app, session, site):
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    for run in runs(session):
        report_jobs.run_report(run.id)
    assert len(outbox(app)) == 4


def test_tuesday_dispatch_catches_up_the_missed_monday(app, session, site):
    report_jobs.dispatch_reports((MONDAY_0700 + dt.timedelta(days=1)).isoformat())
    assert {(r.week, r.status) for r in runs(session)} == {(WEEK, "sent")}
    assert len(outbox(app)) == 4


def test_missed_weeks_since_the_last_recorded_one_are_caught_up(session, site):
    service.dispatch(session, MONDAY_0700 - dt.timedelta(days=7))
    service.dispatch(session, MONDAY_0700 + dt.timedelta(days=14))
    weeks = sorted({r.week for r in runs(session)})
    assert weeks == ["2026-W43", "2026-W44", "2026-W45", "2026-W46"]


def test_a_run_claimed_by_another_job_is_not_built_again(session, site):
    region = site.region
    run = service.ensure_run(session, "utilisation", region, WEEK, "test")
    session.commit()
    assert service.claim_run(session, run.id, "job-1")
    assert not service.claim_run(session, run.id, "job-2")
    assert service.claim_run(session, run.id, "job-1")  # the same job, retried after a kill


def test_stuck_run_is_enqueued_again_after_the_bound(app, session, site):
    run = service.ensure_run(session, "utilisation", site.region, WEEK, "test")
    session.commit()
    service.claim_run(session, run.id, "killed-job")
    session.commit()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(
        minutes=app.config["OPSADMIN_STUCK_RUN_MINUTES"] + 1
    )
    assert run.id in service.runs_to_enqueue(session, later)


def test_report_and_messages_carry_no_patient_ref_or_names(app, session, site):
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    patient_refs = session.scalars(sa.text("SELECT patient_ref FROM appointment")).all()
    staff_names = session.scalars(sa.text("SELECT name FROM staff_member")).all()
    for path in Path(app.config["OPSADMIN_OUTBOX_DIR"]).glob("*.eml"):
        raw = path.read_bytes().decode("ascii", "replace")
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        decoded = "".join(
            part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
        )
        for secret in [*patient_refs, *staff_names]:
            assert secret not in raw and secret not in decoded


def test_message_has_html_text_csv_and_png(app, session, site):
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    message = outbox(app)[0]
    types = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html", "text/csv", "image/png"} <= types
    assert message["Message-ID"].startswith("<report-")


def test_content_hash_is_deterministic(session, site):
    _, first = service.build_artefacts(session, "utilisation", "IN", WEEK)
    _, second = service.build_artefacts(session, "utilisation", "IN", WEEK)
    assert first.sha256 == second.sha256


def test_resend_sends_again_with_a_new_message_id(app, session, site):
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    run = runs(session)[0]
    before = {d.recipient: d.message_id for d in run.deliveries}
    for delivery_id, generation in service.resend(session, run):
        db.session.commit()
        report_jobs.send_delivery(delivery_id, generation)
    session.expire_all()
    after = {d.recipient: d.message_id for d in session.get(ReportRun, run.id).deliveries}
    assert set(after) == set(before) and all(after[r] != before[r] for r in after)
    assert session.get(ReportRun, run.id).status == "sent"
    assert len(outbox(app)) == 6


def test_failed_smtp_marks_delivery_failed_and_a_retry_sends(app, session, site):
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", 9  # nothing listens
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    statuses = session.scalars(sa.select(ReportDelivery.status)).all()
    assert set(statuses) == {"failed"}
    assert {r.status for r in runs(session)} == {"built"}
    app.config["SMTP_HOST"] = None
    for run in runs(session):
        report_jobs.run_report(run.id)
    assert {r.status for r in runs(session)} == {"sent"}
    assert len(outbox(app)) == 4
