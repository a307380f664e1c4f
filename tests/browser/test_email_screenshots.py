"""The e-mails as a reader sees them: every kind's HTML rendered in Debian's Chromium, with its
charts (inline images shown as the console shows them), screenshots kept as test output under
test-output/screenshots/email-*.png. Every image loads and has its text alternative; every table
fits the 760-pixel message width.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from opsadmin.reports import service
from opsadmin.reports.followup import credential_changes
from opsadmin.reports.render import for_browser, render_credentials
from tests.factories import CredentialFactory, ReferralFactory, StaffFactory
from tests.reports.fixtures import WEEK, build_week

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
REQUIRED = os.environ.get("OPSADMIN_BROWSER_TESTS") == "required"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not REQUIRED,
        reason=f"{CHROMIUM} is missing (apt-get install chromium); set OPSADMIN_BROWSER_TESTS=required to fail instead",
    ),
]


CHARTS = {"utilisation": 4, "followup": 1, "credentials": 0}  # inline images per e-mail


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 800, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def emails(session) -> dict[str, str]:
    """Every kind of e-mail, as HTML a browser shows (charts as data: images)."""
    site = build_week()
    staff = StaffFactory(locations=[site.location], name="Dr Ada Byrne")
    CredentialFactory(staff=staff, kind="acls", state=None, expires_on=dt.date(2026, 11, 1))
    for status in ("received", "consulted", "approved"):
        ReferralFactory(
            consult_location=site.location,
            status=status,
            status_changed_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        )
    ReferralFactory(
        consult_location=site.location, status="completed", follow_up_due_on=dt.date(2026, 10, 30)
    )
    session.commit()
    found = {}
    for kind in ("utilisation", "followup"):
        _, artefacts = service.build_artefacts(session, kind, "IN", WEEK)
        found[kind] = for_browser(artefacts.html, artefacts.charts)
    _, html, _ = render_credentials(credential_changes(session, site.region, dt.date(2026, 11, 2)))
    found["credentials"] = html
    return found


def test_every_email_renders_with_its_charts(page, emails):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    for kind, html in emails.items():
        page.set_content(html, wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.naturalWidth, e.getAttribute('alt') || ''])"
        )
        assert all(width > 0 and alt for width, alt in images), (kind, images)
        widest = page.eval_on_selector_all(
            "table", "els => Math.max(0, ...els.map(e => e.getBoundingClientRect().width))"
        )
        assert widest <= 760, (kind, widest)
        page.screenshot(path=str(SCREENSHOTS / f"email-{kind}.png"), full_page=True)
        assert (SCREENSHOTS / f"email-{kind}.png").stat().st_size > 10_000
        assert len(images) == CHARTS[kind]
    assert not errors
