"""Console: report runs, "run now" and "resend", downloads, and the embedded outbox (acceptance 6)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from opsadmin.reports.models import ReportRun
from tests.factories import RegionFactory, UserFactory
from tests.reports.fixtures import WEEK, build_week


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": None, "SMTP_HOST": None}


@pytest.fixture
def site(session):
    site = build_week()
    session.commit()
    return site


def sign_in(auth, session, role="ops_manager", regions=()):
    user = UserFactory(role=role, regions=list(regions))
    session.commit()
    auth.login(user)
    return user


def run_now(client, kind="utilisation", region="IN"):
    return client.post(
        "/admin/report_runs/run-now/", data={"kind": kind, "region": region, "week": WEEK}
    )


def test_run_now_builds_the_report_and_the_message_appears_in_the_outbox(
    client, auth, session, site
):
    sign_in(auth, session, regions=[site.region])
    response = run_now(client)
    assert response.status_code == 302
    details = client.get(response.headers["Location"])
    assert details.status_code == 200
    assert b"run-chart" in details.data and b"lead1@example.org" in details.data
    outbox = client.get("/admin/outbox/")
    assert outbox.status_code == 200
    assert outbox.data.count(b"Utilisation IN 2026-W44") == 2
    name = re.search(rb'href="/admin/outbox/([^"/]+\.eml)"', outbox.data)[1].decode()
    message = client.get(f"/admin/outbox/{name}")
    assert message.status_code == 200
    assert b"&lt;!DOCTYPE html&gt;" in message.data  # the HTML is shown escaped, never rendered


def test_run_page_offers_the_chart_and_downloads(client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    run_now(client)
    run_id = session.scalar(sa.select(ReportRun.id))
    png = client.get(f"/admin/report_runs/{run_id}/artefact/png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    csv = client.get(f"/admin/report_runs/{run_id}/artefact/csv")
    assert csv.mimetype == "text/csv" and b"GRN" in csv.data
    assert "attachment" in csv.headers["Content-Disposition"]


def test_resend_sends_every_lead_a_new_message(client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    run_now(client)
    run_id = session.scalar(sa.select(ReportRun.id))
    assert client.post(f"/admin/report_runs/{run_id}/resend/").status_code == 302
    assert client.get("/admin/outbox/").data.count(b"Utilisation IN 2026-W44") == 4


def test_run_now_on_a_sent_report_says_to_resend(client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    run_now(client)
    response = run_now(client)
    assert response.status_code == 302
    assert b"already sent" in client.get(response.headers["Location"]).data


def test_regional_lead_may_read_but_not_run(client, auth, session, site):
    sign_in(auth, session, role="regional_lead", regions=[site.region])
    assert client.get("/admin/report_runs/").status_code == 200
    assert run_now(client).status_code == 403


def test_runs_of_another_region_are_hidden(client, auth, session, site):
    other = RegionFactory(code="IL", name="Illinois")
    session.commit()
    sign_in(auth, session, regions=[other])
    assert run_now(client).status_code == 404
    run = ReportRun(kind="utilisation", region_id=site.region.id, week=WEEK, html="<p>x</p>")
    session.add(run)
    session.commit()
    assert client.get(f"/admin/report_runs/{run.id}/artefact/html").status_code == 404
    assert client.get("/admin/outbox/").status_code == 200


def test_outbox_is_hidden_when_smtp_is_configured(app, client, auth, session, site):
    sign_in(auth, session, role="admin")
    app.config["SMTP_HOST"] = "smtp.example.org"
    assert client.get("/admin/outbox/").status_code == 403


def test_outbox_refuses_paths(client, auth, session, site):
    sign_in(auth, session, role="admin")
    assert client.get("/admin/outbox/..%2Fdev-secret.json").status_code == 404


def test_run_now_without_csrf_token_is_refused(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    app.config["WTF_CSRF_ENABLED"] = True
    assert run_now(client).status_code in (400, 403)
    assert session.scalar(sa.select(ReportRun.id)) is None
