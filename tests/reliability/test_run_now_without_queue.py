"""Console "Run now" with the job queue down, and the audit of who asked (issue 11, problems 6, 8)."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.reports import service
from opsadmin.reports.models import ReportRun
from tests.factories import UserFactory
from tests.reports.fixtures import WEEK, build_week


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0", "SMTP_HOST": None}


def test_run_now_with_redis_down_records_the_run_and_says_it_goes_out_later(client, auth, session):
    site = build_week()
    user = UserFactory(role="ops_manager", regions=[site.region])
    session.commit()
    auth.login(user)
    response = client.post(
        "/admin/report_runs/run-now/",
        data={"kind": "utilisation", "region": site.region.code, "week": WEEK},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "when the queue is back" in response.text
    session.rollback()
    run = session.scalars(sa.select(ReportRun)).one()
    assert run.status == "queued" and run.requested_by == user.email
    event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "run_now")).one()
    assert event.actor_id == user.id and event.entity_id == str(run.id)
    # The hourly dispatcher picks the waiting run up again once past the stuck bound.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert run.id in service.dispatch(session, later)
