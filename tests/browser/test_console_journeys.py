"""Console journeys in a real Chromium (issue 6 acceptance 1), against a live server.

The server is werkzeug in a thread on 127.0.0.1 (random port) over a SQLite file, with CSRF on and
TOTP required for everyone, as in production. Screenshots go to test-output/screenshots/. Any CSP
violation reported by the browser fails the journey: the console's own scripts must all run.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa

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

TODAY = dt.date.today()


@pytest.fixture
def live_server(tmp_path, database_url):
    from werkzeug.serving import make_server

    from opsadmin.app import create_app
    from opsadmin.db import Base
    from opsadmin.extensions import db

    app = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "browser-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'browser.db'}",
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "WTF_CSRF_ENABLED": True,
            "OPSADMIN_REQUIRE_TOTP": True,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        Base.metadata.create_all(db.engine)
        seed = _seed(db.session)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seed, app
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _seed(session):
    from opsadmin.auth.models import User
    from opsadmin.auth.passwords import hash_password
    from opsadmin.locations.models import Location, OpeningHours, Region, SiteRegistration
    from opsadmin.referrals.models import Referral
    from opsadmin.rooms.models import Room
    from opsadmin.staff.models import StaffMember

    indiana = Region(code="IN", name="Indiana", lead_emails=["lead-in@example.org"])
    illinois = Region(code="IL", name="Illinois", lead_emails=["lead-il@example.org"])
    password = hash_password("correct horse battery staple")
    sites = {}
    for code, name, region, state, tz in (
        ("GRN", "Greencastle", indiana, "IN", "America/Indiana/Indianapolis"),
        ("CHI", "Chicago Loop", illinois, "IL", "America/Chicago"),
    ):
        site = Location(code=code, name=name, region=region, state=state, timezone=tz, city=name)
        site.opening_hours = [
            OpeningHours(weekday=d, opens=dt.time(0, 0), closes=dt.time(23, 59)) for d in range(7)
        ]
        site.registrations = [
            SiteRegistration(
                kind="dea_registration",
                number=f"F{code}1",
                state=state,
                expires_on=TODAY + dt.timedelta(days=400),
            )
        ]
        session.add_all(
            [site, Room(location=site, name=f"{code} infusion", kind="infusion", capacity=3)]
        )
        sites[code] = site
    staff = StaffMember(
        name="Dr Ada Physician",
        email="ada@clinic.example.org",
        role="physician",
        locations=[sites["GRN"]],
    )
    referral = Referral(
        patient_ref="P-777",
        indication="migraine",
        referring_provider_name="Dr Neuro",
        referring_provider_npi="1234567893",
        received_on=TODAY - dt.timedelta(days=2),
        consult_location=sites["GRN"],
        treatment_location=sites["GRN"],
    )
    admin = User(email="admin@ops.example.org", password_hash=password, role="admin")
    lead = User(
        email="lead@ops.example.org",
        password_hash=password,
        role="regional_lead",
        regions=[illinois],
    )
    session.add_all([staff, referral, admin, lead])
    session.commit()
    return {"staff_id": staff.id, "referral_id": referral.id, "admin_id": admin.id}


@pytest.fixture
def chromium_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def choose(page, select, text):
    """Pick the option whose label contains ``text`` (select2 hides the native select)."""
    value = page.locator(f"{select} option", has_text=text).first.get_attribute("value")
    page.select_option(select, value, force=True)


# Reports every CSP violation the page meets (inline handlers, javascript: URLs, foreign hosts)
# as a console error, whether or not the browser logs one itself.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " +
    (event.blockedURI || "inline") + " at " + event.sourceFile + ":" + event.lineNumber +
    " (" + (event.sample || "") + ")");
}, true);
"""


class Journey:
    """One browser tab, with the console errors and CSP violations it met and its screenshots.

    Every journey ends with ``assert_clean()``: no CSP violation (not even flask-admin's inline
    handlers: the console's templates have none), no script error and no failed resource, on
    every page it visited.
    """

    def __init__(self, browser, base_url, name):
        self.base_url = base_url
        self.name = name
        self.page = browser.new_page()
        self.page.set_default_timeout(15000)
        self.problems: list[str] = []
        self.visited: list[str] = []
        self.page.add_init_script(REPORT_VIOLATIONS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("framenavigated", self._navigated)
        self.page.on("dialog", lambda dialog: dialog.accept())

    def _console(self, message):
        text = message.text
        if message.type == "error" or "Content Security Policy" in text:
            self.problems.append(f"{self.page.url}: {text}")

    def _navigated(self, frame):
        if frame == self.page.main_frame:
            self.visited.append(frame.url)

    @property
    def csp_errors(self) -> list[str]:
        return [p for p in self.problems if "CSP" in p or "Content Security Policy" in p]

    def assert_clean(self):
        self.page.wait_for_load_state()
        assert self.problems == [], "\n".join(self.problems + ["visited:", *self.visited])

    def go(self, path):
        self.page.goto(self.base_url + path)

    def shot(self, step):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}-{step}.png"), full_page=True)

    def sign_in(self, email):
        self.go("/login")
        self.page.fill("#email", email)
        self.page.fill("#password", "correct horse battery staple")
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/login/totp/enrol")
        assert self.page.locator("#totp-qr").get_attribute("src").startswith("data:image/svg+xml")
        secret = self.page.locator("#totp-secret").inner_text()
        self.shot("totp-enrol")
        self.page.fill("#code", pyotp.TOTP(secret).now())
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/admin/")


def test_admin_signs_in_with_totp_and_sees_the_dashboard_chart(chromium_browser, live_server):
    base_url, _seed_ids, _app = live_server
    journey = Journey(chromium_browser, base_url, "dashboard")
    journey.sign_in("admin@ops.example.org")
    assert journey.page.locator("#utilisation-chart").is_visible()
    assert journey.page.locator("#panel-credentials").is_visible()
    journey.shot("dashboard")
    journey.assert_clean()


def test_admin_creates_a_location_with_hours_and_a_room(chromium_browser, live_server):
    base_url, _seed_ids, app = live_server
    journey = Journey(chromium_browser, base_url, "location")
    journey.sign_in("admin@ops.example.org")
    journey.go("/admin/locations/new/")
    page = journey.page
    page.fill("#code", "IND")
    page.fill("#name", "Indianapolis North")
    choose(page, "#region", "Indiana")
    page.fill("#city", "Indianapolis")
    page.fill("#state", "IN")
    page.fill("#timezone", "America/Indiana/Indianapolis")
    page.fill("#opening_hours-0-0-opens", "08:00")  # the weekly grid: Monday, first interval
    page.fill("#opening_hours-0-0-closes", "18:00")
    page.click("#rooms-button")
    page.fill("#rooms-0-name", "Infusion 1")
    page.select_option("#rooms-0-kind", "infusion", force=True)
    page.fill("#rooms-0-capacity", "4")
    journey.shot("form")
    page.locator("input[type=submit][value='Save']").dispatch_event("click")
    page.wait_for_url("**/admin/locations/")
    journey.shot("saved")
    assert "Indianapolis North" in page.content()
    from opsadmin.extensions import db
    from opsadmin.locations.models import Location

    with app.app_context():
        created = db.session.scalar(sa.select(Location).where(Location.code == "IND"))
        assert [r.name for r in created.rooms] == ["Infusion 1"] and len(created.opening_hours) == 1
    journey.assert_clean()


def test_admin_adds_a_credential_and_sees_its_status_label(chromium_browser, live_server):
    base_url, _seed_ids, _app = live_server
    journey = Journey(chromium_browser, base_url, "credential")
    journey.sign_in("admin@ops.example.org")
    journey.go("/admin/credentials/new/")
    page = journey.page
    choose(page, "#staff", "Dr Ada Physician")
    page.select_option("#kind", "acls", force=True)
    page.fill("#number", "ACLS-42")
    page.fill("#issued_on", (TODAY - dt.timedelta(days=300)).isoformat())
    page.fill("#expires_on", (TODAY + dt.timedelta(days=30)).isoformat())
    page.fill("#verified_on", (TODAY - dt.timedelta(days=1)).isoformat())
    # The date picker's pop-up covers the button: press it the way a keyboard user would.
    page.locator("input[type=submit][value='Save']").dispatch_event("click")
    page.wait_for_url("**/admin/credentials/")
    row = page.locator("tr", has_text="ACLS-42")
    assert row.locator(".badge").inner_text().strip() == "Expiring"
    journey.shot("status-label")
    journey.assert_clean()


def test_ops_manager_moves_a_referral_with_an_action(chromium_browser, live_server):
    base_url, seed_ids, app = live_server
    journey = Journey(chromium_browser, base_url, "referral")
    journey.sign_in("admin@ops.example.org")
    journey.go(f"/admin/referrals/details/?id={seed_ids['referral_id']}")
    page = journey.page
    journey.shot("before")
    page.fill("#reason-withdrawn", "Patient chose another clinic")
    page.click("#move-withdrawn")
    page.wait_for_load_state()
    journey.shot("after")
    from opsadmin.extensions import db
    from opsadmin.referrals.models import Referral

    with app.app_context():
        assert db.session.get(Referral, seed_ids["referral_id"]).status == "withdrawn"
    journey.assert_clean()


def test_regional_lead_cannot_see_the_other_region(chromium_browser, live_server):
    base_url, seed_ids, _app = live_server
    journey = Journey(chromium_browser, base_url, "regional-lead")
    journey.sign_in("lead@ops.example.org")
    journey.go("/admin/locations/")
    content = journey.page.content()
    assert "Chicago Loop" in content and "Greencastle" not in content
    assert journey.page.locator("a[href*='/admin/locations/new/']").count() == 0
    journey.shot("locations")
    journey.go(f"/admin/referrals/details/?id={seed_ids['referral_id']}")
    assert "P-777" not in journey.page.content()
    journey.shot("other-region-referral")
    journey.assert_clean()
