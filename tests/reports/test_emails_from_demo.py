"""Every e-mail the product sends, built from the demo chain and sent to the outbox: no patient
reference in any part or attachment, every link opens a console page (200 for an administrator),
and each follow-up digest item names its site and its age.

E-mail kinds: the weekly utilisation report, the weekly follow-up digest (both per region), and
the daily credential-expiry notice to the operations managers.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from opsadmin import demo
from opsadmin import models as m
from opsadmin.app import create_app
from opsadmin.audit.service import acting_as
from opsadmin.db import utcnow
from opsadmin.extensions import db
from opsadmin.reports import jobs, service
from opsadmin.reports.weeks import week_of
from tests.conftest import _empty_tables
from tests.factories import UserFactory

BASE_URL = "https://ops.example.org"
LINK = re.compile(r"https?://[^\s\"'<>)]+")


@pytest.fixture(scope="module")
def seeded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("emails-instance")),
            "REDIS_URL": None,
            "SMTP_HOST": None,
            "WTF_CSRF_ENABLED": False,
            "OPSADMIN_REQUIRE_TOTP": False,
            "RATELIMIT_ENABLED": False,
            "OPSADMIN_BASE_URL": BASE_URL,
        }
    )
    with app.app_context():
        with acting_as(demo.ACTOR):
            demo.seed_demo(db.session, now=utcnow())
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def app(seeded: Flask) -> Iterator[Flask]:
    ctx = seeded.app_context()
    ctx.push()
    try:
        yield seeded
    finally:
        db.session.rollback()
        db.session.remove()
        ctx.pop()


def first_change_day(session) -> dt.date:
    """A day on which some credential or site registration of the demo expired (the day after
    its last valid day): the daily notice has something to say then."""
    today = dt.date.today()
    expiries = [
        *session.scalars(sa.select(m.Credential.expires_on)),
        *session.scalars(sa.select(m.SiteRegistration.expires_on)),
    ]
    recent = sorted(day for day in expiries if today - dt.timedelta(days=60) <= day <= today)
    assert recent, "the demo chain has no credential expiring lately"
    return recent[-1] + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def sent_emails(seeded: Flask) -> list[email.message.EmailMessage]:
    """Send every kind of e-mail for every region, as the jobs do; the outbox's messages."""
    with seeded.app_context():
        week = week_of(dt.date.today() - dt.timedelta(days=7))
        regions = list(db.session.scalars(sa.select(m.Region).order_by(m.Region.code)))
        UserFactory(email="ops.emails@example.org", role="ops_manager", regions=regions)
        db.session.commit()
        for region in regions:
            for kind in ("utilisation", "followup"):
                jobs.run_from_cli(kind, region.code, week, send_now=True)
        assert jobs.notify_credential_expiry(first_change_day(db.session).isoformat()) >= 1
        folder = Path(seeded.config["OPSADMIN_OUTBOX_DIR"])
        messages = [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*.eml"))
        ]
        db.session.remove()
    return messages


def parts(message: email.message.EmailMessage) -> Iterator[tuple[str, bytes]]:
    for part in message.walk():
        if part.is_multipart():
            continue
        yield part.get_content_type(), part.get_payload(decode=True) or b""


def test_every_kind_of_email_was_sent(sent_emails):
    subjects = [str(message["Subject"]) for message in sent_emails]
    assert any(s.startswith("Utilisation ") for s in subjects)
    assert any(s.startswith("Follow-up digest ") for s in subjects)
    assert any(s.startswith("Credentials to renew ") for s in subjects)


def test_no_patient_reference_in_any_part_or_attachment(app, sent_emails):
    refs = {
        *db.session.scalars(sa.select(m.Appointment.patient_ref).distinct()),
        *db.session.scalars(sa.select(m.Referral.patient_ref).distinct()),
    }
    assert len(refs) > 50
    for message in sent_emails:
        for content_type, payload in parts(message):
            leaked = [ref for ref in refs if ref.encode() in payload]
            assert not leaked, (message["Subject"], content_type, leaked[:3])


def test_every_link_opens_a_console_page(app, client, auth, sent_emails):
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)
    links: set[str] = set()
    for message in sent_emails:
        for content_type, payload in parts(message):
            if content_type in ("text/plain", "text/html"):
                links.update(LINK.findall(payload.decode()))
    assert len(links) > 10
    for url in sorted(links):
        assert url.startswith(f"{BASE_URL}/admin/"), url
        target = urlsplit(url.replace("&amp;", "&"))
        response = client.get(target.path, query_string=target.query)
        assert response.status_code == 200, (url, response.status_code)


def test_digest_items_name_their_site_and_age(app, sent_emails):
    digests = [m for m in sent_emails if str(m["Subject"]).startswith("Follow-up digest ")]
    sites = set(db.session.scalars(sa.select(m.Location.code)))
    items = 0
    for message in digests:
        text = message.get_body(preferencelist=("plain",)).get_content()
        for line in text.splitlines():
            if re.match(r"^  #\d+ ", line):  # a stalled referral or a follow-up
                items += 1
                assert set(line.split()) & sites, line
                assert re.search(r"\d+ days? (in stage|overdue)|due (today|in \d+ days?)", line), (
                    line
                )
    assert items > 0
    week = week_of(dt.date.today() - dt.timedelta(days=7))
    for region in db.session.scalars(sa.select(m.Region)):
        figures = service.build_figures(db.session, "followup", region.code, week)
        for item in figures["stalled_items"]:
            assert item["location"] in sites and item["days_in_stage"] >= 0
        ages = [i["days_in_stage"] for i in figures["stalled_items"]]
        assert ages == sorted(ages, reverse=True)  # the longest waiting first
        for item in figures["follow_ups"]:
            assert item["location"] in sites and isinstance(item["days_overdue"], int)
        for credential in figures["staff_credentials"]:
            assert credential["staff_name"] and credential["sites"]
