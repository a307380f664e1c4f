"""Console: report runs, "run now" and "resend", downloads, and the embedded outbox (acceptance 6)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsadmin.reports import service
from opsadmin.reports.models import ReportRun
from opsadmin.reports.weeks import week_of
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


def run_now(client, kind="utilisation", region="IN", week=WEEK):
    """The console's "Run now": a preview, built and shown, nothing sent."""
    return client.get(
        "/admin/report_runs/preview/", query_string={"kind": kind, "region": region, "week": week}
    )


def send(client, kind="utilisation", region="IN", week=WEEK, confirm="yes"):
    data = {"kind": kind, "region": region, "week": week, "confirm": confirm}
    return client.post("/admin/report_runs/send/", data=data)


def outbox(app) -> list[str]:
    folder = Path(app.config["OPSADMIN_OUTBOX_DIR"])
    return sorted(p.name for p in folder.glob("*.eml")) if folder.is_dir() else []


def test_run_now_shows_the_email_and_sends_nothing(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    response = run_now(client)
    assert response.status_code == 200
    frame = re.search(
        r'<iframe id="email-frame"[^>]*sandbox="([^"]*)"[^>]*srcdoc="([^"]+)"', response.text
    )
    assert frame is not None and "allow-scripts" not in frame[1]
    framed = html.unescape(frame[2])
    assert "Utilisation IN 2026-W44" in framed and "Utilisation by site" in framed
    assert "cid:" not in framed and framed.count("data:image/png;base64,") >= 3
    assert 'id="send-form"' in response.text
    assert outbox(app) == []
    assert session.scalar(sa.select(sa.func.count(ReportRun.id))) == 0


def test_send_needs_the_confirmation_then_sends_once(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    assert send(client, confirm="").status_code == 302
    assert outbox(app) == []
    response = send(client)
    assert response.status_code == 302
    details = client.get(response.headers["Location"])
    assert details.status_code == 200
    assert b"run-chart" in details.data and b"lead1@example.org" in details.data
    assert len(outbox(app)) == 2  # one message per lead
    again = send(client)
    assert "already has this report" in client.get(again.headers["Location"]).text
    assert len(outbox(app)) == 2  # a second "Send" sends nobody anything


def test_send_reaches_a_lead_added_since_and_only_them(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    send(client)
    site.region.lead_emails = [*site.region.lead_emails, "lead3@example.org"]
    session.commit()
    send(client)
    messages = outbox(app)
    assert len(messages) == 3
    recipients = sorted(
        email.message_from_bytes((Path(app.config["OPSADMIN_OUTBOX_DIR"]) / name).read_bytes())[
            "To"
        ]
        for name in messages
    )
    assert recipients == ["lead1@example.org", "lead2@example.org", "lead3@example.org"]


def test_sent_email_has_each_chart_once_inline_and_only_the_csv_attached(
    app, client, auth, session, site
):
    sign_in(auth, session, regions=[site.region])
    send(client)
    raw = (Path(app.config["OPSADMIN_OUTBOX_DIR"]) / outbox(app)[0]).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("html",)).get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    cids = [p["Content-ID"].strip("<>") for p in images]
    assert len(cids) == len(set(cids)) == 4  # by site, occupancy, trend, forecast
    for cid in cids:
        assert body.count(f"cid:{cid}") == 1
        assert re.search(rf'src="cid:{re.escape(cid)}" alt="[^"]+"', body)
    assert [p.get_filename() for p in message.iter_attachments()] == ["utilisation-IN-2026-W44.csv"]


def test_resend_sends_every_lead_a_new_message(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    send(client)
    run_id = session.scalar(sa.select(ReportRun.id))
    assert client.post(f"/admin/report_runs/{run_id}/resend/").status_code == 302
    assert len(outbox(app)) == 4


def test_a_week_not_over_can_be_previewed_but_not_sent(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    this_week = week_of(dt.date.today())
    preview = run_now(client, week=this_week)
    assert preview.status_code == 200 and 'id="week-not-over"' in preview.text
    response = send(client, week=this_week)
    assert "not over yet" in client.get(response.headers["Location"]).text
    assert outbox(app) == []


def test_run_page_offers_the_chart_and_downloads(client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    send(client)
    run_id = session.scalar(sa.select(ReportRun.id))
    png = client.get(f"/admin/report_runs/{run_id}/artefact/png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    csv = client.get(f"/admin/report_runs/{run_id}/artefact/csv")
    assert csv.mimetype == "text/csv" and b"GRN" in csv.data
    assert "attachment" in csv.headers["Content-Disposition"]


def test_regional_lead_may_read_but_not_send(app, client, auth, session, site):
    sign_in(auth, session, role="regional_lead", regions=[site.region])
    assert client.get("/admin/report_runs/").status_code == 200
    preview = run_now(client)
    assert preview.status_code == 200 and 'id="send-form"' not in preview.text
    assert send(client).status_code == 403
    assert outbox(app) == []


def test_regional_lead_opens_last_weeks_emails_of_their_region_only(client, auth, session, site):
    other = RegionFactory(code="IL", name="Illinois")
    session.flush()
    runs = {}
    for region in (site.region, other):
        figures, artefacts = service.build_artefacts(session, "followup", region.code, WEEK)
        run = ReportRun(kind="followup", region_id=region.id, week=WEEK, status="sent")
        session.add(run)
        session.flush()
        service.store_build(session, run, figures, artefacts)
        run.status = "sent"
        runs[region.code] = run.id
    session.commit()
    sign_in(auth, session, role="regional_lead", regions=[site.region])
    details = client.get(f"/admin/report_runs/details/?id={runs['IN']}")
    assert details.status_code == 200 and 'id="open-email"' in details.text
    page = client.get(f"/admin/report_runs/{runs['IN']}/email/")
    assert page.status_code == 200
    assert "Follow-up digest IN 2026-W44" in html.unescape(page.text)
    assert 'id="email-frame"' in page.text and 'id="email-text"' in page.text
    assert client.get(f"/admin/report_runs/{runs['IL']}/email/").status_code == 404
    assert client.get(f"/admin/report_runs/details/?id={runs['IL']}").status_code in (302, 404)
    assert client.post(f"/admin/report_runs/{runs['IN']}/resend/").status_code == 403


def test_runs_of_another_region_are_hidden(client, auth, session, site):
    other = RegionFactory(code="IL", name="Illinois")
    session.commit()
    sign_in(auth, session, regions=[other])
    assert run_now(client).status_code == 404
    assert send(client).status_code == 404
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


def test_send_without_csrf_token_is_refused(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    app.config["WTF_CSRF_ENABLED"] = True
    assert send(client).status_code in (400, 403)
    assert session.scalar(sa.select(ReportRun.id)) is None
    assert outbox(app) == []


def test_run_now_with_a_bad_week_or_kind_says_so(app, client, auth, session, site):
    sign_in(auth, session, regions=[site.region])
    for kind, week in (("utilisation", "2026-53"), ("nonsense", WEEK)):
        response = run_now(client, kind=kind, week=week)
        assert response.status_code == 302
        page = client.get(response.headers["Location"]).text
        assert "ISO week" in page or "Unknown report" in page
    assert outbox(app) == []
