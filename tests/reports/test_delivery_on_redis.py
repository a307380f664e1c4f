"""End to end on real Redis and a real SMTP server (issue 5, acceptance 2–4): the dispatcher
enqueues, a worker process in burst mode builds and sends, every lead gets exactly one message of
each report — also after dispatching twice, enqueueing twice, and a SIGKILLed work horse."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsadmin.jobs import QUEUES, REPORTS, enqueue, queue
from opsadmin.reports import jobs as report_jobs
from opsadmin.reports.models import ReportDelivery, ReportRun
from tests.conftest import REAL_REDIS
from tests.reports.fixtures import TZ, WEEK, build_week

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not REAL_REDIS, reason="needs a real Redis: set REDIS_URL"),
]
ROOT = Path(__file__).resolve().parents[2]
LEADS = ["lead1@example.org", "lead2@example.org"]
MONDAY_0700 = dt.datetime(2026, 11, 2, 7, 0, tzinfo=TZ).astimezone(dt.UTC)


class Collector:
    """An aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def per_lead(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for recipients, message in self.messages:
            for recipient in recipients:
                key = (recipient, message["X-Opsadmin-Report"])
                counts[key] = counts.get(key, 0) + 1
        return counts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield collector, controller.port
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config, smtp):
    _, port = smtp
    # Retries without delay: the burst worker picks a retried job up at once.
    return {
        **app_config,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "OPSADMIN_JOB_RETRY_INTERVALS": [0, 0, 0],
    }


@pytest.fixture
def queues(app):
    for name in QUEUES:
        queue(name).empty()


@pytest.fixture
def site(session, queues):
    site = build_week()
    session.commit()
    return site


def worker_env(app, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(app.config["SMTP_PORT"]),
        "SECRET_KEY": "worker-test",
        "OPSADMIN_ENV": "test",
        "OPSADMIN_INSTANCE_DIR": app.config["INSTANCE_DIR"],
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    return env


def start_worker(app, pause: Path | None = None, **extra: str) -> subprocess.Popen:
    """A burst worker; with ``pause``, its first build waits while that file exists."""
    command = ["worker.py"] if pause is None else ["-m", "tests.reports.paused_worker", str(pause)]
    return subprocess.Popen(
        [sys.executable, *command, "--burst", *QUEUES],
        cwd=ROOT,
        env=worker_env(app, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_worker(app, **extra: str) -> str:
    process = start_worker(app, **extra)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def assert_each_lead_got_one_of_each(session, collector: Collector) -> None:
    session.rollback()  # end the test's read snapshot: the worker wrote since
    statuses = session.scalars(sa.select(ReportRun.status).where(ReportRun.week == WEEK)).all()
    assert statuses == ["sent", "sent"]
    expected = {
        (lead, f"{kind}-IN-{WEEK}"): 1 for lead in LEADS for kind in ("utilisation", "followup")
    }
    counts = collector.per_lead()
    assert {key: counts.get(key) for key in expected} == expected
    # Exactly one message per delivery (other weeks, if caught up, included).
    assert sum(counts.values()) == len(session.scalars(sa.select(ReportDelivery.id)).all())
    assert set(session.scalars(sa.select(ReportDelivery.status))) == {"sent"}


def test_dispatcher_enqueues_and_a_burst_worker_builds_and_sends(app, session, site, smtp):
    collector, _ = smtp
    run_ids = report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    assert len(run_ids) == 2
    run_worker(app)
    assert_each_lead_got_one_of_each(session, collector)
    refs = session.scalars(sa.text("SELECT patient_ref FROM appointment")).all()
    for _, message in collector.messages:
        types = {part.get_content_type() for part in message.walk()}
        assert {"text/plain", "text/html", "text/csv", "image/png"} <= types
        raw = message.as_string()
        assert not any(ref in raw for ref in refs)


def test_dispatching_twice_and_enqueueing_twice_send_once(app, session, site, smtp, queues):
    collector, _ = smtp
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    report_jobs.dispatch_reports((MONDAY_0700 + dt.timedelta(hours=1)).isoformat())
    for run_id in session.scalars(sa.select(ReportRun.id)).all():
        enqueue(REPORTS, report_jobs.run_report, run_id)  # a second job for the same run
    session.rollback()
    run_worker(app)
    run_worker(app)
    assert_each_lead_got_one_of_each(session, collector)


def wait_for(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_sigkilled_work_horse_then_another_worker_sends_once(app, session, site, smtp, tmp_path):
    collector, _ = smtp
    pause = tmp_path / "pause"
    pause.write_text("pause the first build")
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    worker = start_worker(app, pause)
    horse = int(wait_for(Path(f"{pause}.pid")))
    assert "running" in session.scalars(sa.select(ReportRun.status)).all()
    session.rollback()
    os.kill(horse, signal.SIGKILL)
    output, _ = worker.communicate(timeout=120)
    run_worker(app)
    assert_each_lead_got_one_of_each(session, collector)
    assert "terminated unexpectedly" in output


def test_killed_worker_and_horse_are_recovered_by_the_stuck_run_sweep(
    app, session, site, smtp, tmp_path
):
    collector, _ = smtp
    pause = tmp_path / "pause"
    pause.write_text("pause the first build")
    report_jobs.dispatch_reports(MONDAY_0700.isoformat())
    worker = start_worker(app, pause, OPSADMIN_JOB_RETRY_INTERVALS="")
    horse = int(wait_for(Path(f"{pause}.pid")))
    worker.kill()
    worker.wait(timeout=30)
    os.kill(horse, signal.SIGKILL)
    bound = dt.timedelta(minutes=app.config["OPSADMIN_STUCK_RUN_MINUTES"] + 1)
    later = dt.datetime.now(dt.UTC) + bound  # (later weeks come due too: they are caught up)
    assert report_jobs.dispatch_reports(later.isoformat())  # the sweep re-enqueues the stuck run
    run_worker(app)
    assert_each_lead_got_one_of_each(session, collector)


def test_tuesday_dispatch_builds_and_sends_last_weeks_reports(app, session, site, smtp):
    collector, _ = smtp
    report_jobs.dispatch_reports((MONDAY_0700 + dt.timedelta(days=1, hours=2)).isoformat())
    run_worker(app)
    assert_each_lead_got_one_of_each(session, collector)
