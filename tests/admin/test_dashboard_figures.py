"""Issue 14, acceptance 2: every count on the dashboard is the number of rows of the list it opens.

The test finds every figure on the page (``a.dashboard-figure``), follows its link as the same
user and counts the rows listed. The data holds the cases that used to disagree: a referral stalled
since this morning, one consulted in another region but treated in the manager's, a renewed
credential, an inactive clinician's, an unverified one, a renewed site registration.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from opsadmin.db import utcnow
from opsadmin.extensions import db
from opsadmin.reports.models import ReportRun
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    StaffFactory,
    UserFactory,
)

TODAY = dt.date.today()
FIGURE = re.compile(r'<a class="dashboard-figure" data-figure="([^"]+)" href="([^"]+)">(\d+)</a>')


def figures(page: str) -> list[tuple[str, str, int]]:
    return [(key, href.replace("&amp;", "&"), int(n)) for key, href, n in FIGURE.findall(page)]


def listed_rows(client, href: str) -> set[str]:
    """The ids of the rows a console list shows (all of them: one page of up to 100)."""
    page = client.get(f"{href}&page_size=100")
    assert page.status_code == 200, href
    return set(re.findall(r"/details/\?id=(\d+)&", page.text))


def ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


@pytest.fixture
def operation():
    """Two regions; the manager's region IN has GRN, the other (IL) has CHI."""
    indiana = RegionFactory(code="IN")
    grn = LocationFactory(code="GRN", region=indiana, dea=TODAY + dt.timedelta(days=10))
    chi = LocationFactory(code="CHI", region=RegionFactory(code="IL"))
    # Referrals: stalled received (one only since this morning's cut-off), consulted, approved,
    # in the funnel window or not, one consulted at CHI and treated at GRN.
    ReferralFactory(
        consult_location=grn, status_changed_at=ago(30), received_on=TODAY - dt.timedelta(days=30)
    )
    ReferralFactory(
        consult_location=grn, status_changed_at=ago(7.01), received_on=TODAY - dt.timedelta(days=8)
    )
    ReferralFactory(consult_location=grn, status="consulted", status_changed_at=ago(20))
    ReferralFactory(consult_location=grn, status="approved", status_changed_at=ago(20))
    ReferralFactory(
        consult_location=grn, status="completed", received_on=TODAY - dt.timedelta(days=60)
    )
    ReferralFactory(consult_location=grn, received_on=TODAY - dt.timedelta(days=200))
    ReferralFactory(
        consult_location=chi, treatment_location=grn, status="approved", status_changed_at=ago(20)
    )
    ReferralFactory(consult_location=chi, status_changed_at=ago(30))
    # Staff credentials: expiring, expired, renewed, unverified, an inactive clinician's.
    nurse = StaffFactory(locations=[grn])
    CredentialFactory(
        staff=nurse, kind="acls", state=None, expires_on=TODAY + dt.timedelta(days=20)
    )
    CredentialFactory(staff=nurse, kind="bls", state=None, expires_on=TODAY - dt.timedelta(days=2))
    CredentialFactory(
        staff=nurse,
        kind="board_certification",
        state=None,
        expires_on=TODAY - dt.timedelta(days=40),
    )
    CredentialFactory(
        staff=nurse,
        kind="board_certification",
        state=None,
        expires_on=TODAY + dt.timedelta(days=700),
    )
    CredentialFactory(
        staff=nurse,
        kind="state_license",
        state="IN",
        verified_on=None,
        expires_on=TODAY + dt.timedelta(days=5),
    )
    gone = StaffFactory(locations=[grn], active=False)
    CredentialFactory(staff=gone, kind="acls", state=None, expires_on=TODAY - dt.timedelta(days=5))
    CredentialFactory(
        staff=StaffFactory(locations=[chi]),
        kind="acls",
        state=None,
        expires_on=TODAY + dt.timedelta(days=3),
    )
    for status, week in (("sent", "2026-W01"), ("failed", "2026-W02"), ("failed", "2026-W03")):
        db.session.add(ReportRun(kind="utilisation", region=indiana, week=week, status=status))
    db.session.commit()
    return indiana


@pytest.mark.parametrize("role", ["admin", "ops_manager"])
def test_every_dashboard_figure_equals_the_rows_of_the_list_it_opens(client, auth, operation, role):
    user = UserFactory(role=role, regions=[operation] if role == "ops_manager" else [])
    db.session.commit()
    auth.login(user)
    shown = figures(client.get("/admin/").text)
    keys = {key for key, _href, _count in shown}
    for stage in ("received", "consulted", "approved", "started", "completed"):
        assert f"funnel-{stage}" in keys
    for stage in ("received", "consulted", "approved", "in_treatment"):
        assert f"stalled-{stage}" in keys
    for key in ("staff-expiring", "staff-expired", "site-expiring", "site-expired", "runs-failed"):
        assert key in keys
    assert any(count for _key, _href, count in shown)
    for key, href, count in shown:
        assert "flt0_" in href, f"{key} opens an unfiltered list"
        assert len(listed_rows(client, href)) == count, (key, href)


def test_funnel_figures_open_the_referrals_that_reached_the_stage(client, auth, operation):
    auth.login(UserFactory(role="ops_manager", regions=[operation]))
    shown = {key: (href, count) for key, href, count in figures(client.get("/admin/").text)}
    received_href, received = shown["funnel-received"]
    completed_href, completed = shown["funnel-completed"]
    assert received > completed == 1
    assert listed_rows(client, completed_href) < listed_rows(client, received_href)


def test_stalled_figures_count_as_of_now_like_the_list(client, auth, operation):
    """A referral received 7 days and a quarter of an hour ago is stalled now: counted and listed."""
    auth.login(UserFactory(role="ops_manager", regions=[operation]))
    shown = {key: (href, count) for key, href, count in figures(client.get("/admin/").text)}
    href, count = shown["stalled-received"]
    assert count == 2 == len(listed_rows(client, href))
