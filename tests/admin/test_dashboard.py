"""The dashboard (issue 6 acceptance 4): its figures are the report builders' figures."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from opsadmin.extensions import db
from opsadmin.reports import followup, utilisation
from opsadmin.reports.models import ReportRun
from opsadmin.reports.weeks import parse_week, shift_week, week_of
from tests.factories import (
    AppointmentFactory,
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
    StaffFactory,
    UserFactory,
)

TODAY = dt.date.today()


@pytest.fixture
def busy_region():
    region = RegionFactory(code="IN", name="Indiana")
    site = LocationFactory(
        code="GRN", region=region, hours=[(d, "00:00", "23:59") for d in range(7)]
    )
    room = RoomFactory(location=site, capacity=2)
    staff = StaffFactory(locations=[site])
    for day_offset, hours in ((0, 3), (-7, 1)):
        monday = parse_week(shift_week(week_of(TODAY), -1 if day_offset else 0))
        start = dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(14), dt.UTC)
        AppointmentFactory(
            room=room, staff=staff, starts_at=start, ends_at=start + dt.timedelta(hours=hours)
        )
    CredentialFactory(
        staff=staff, kind="acls", state=None, expires_on=TODAY + dt.timedelta(days=20)
    )
    CredentialFactory(staff=staff, kind="bls", state=None, expires_on=TODAY - dt.timedelta(days=2))
    other = LocationFactory(
        code="CHI", region=RegionFactory(code="IL"), dea=TODAY + dt.timedelta(days=10)
    )
    RoomFactory(location=other)
    db.session.commit()
    return region


def percent(value):
    return f"{value * 100:.0f}%" if value is not None else "—"


def test_dashboard_figures_equal_the_report_builders(client, auth, busy_region):
    auth.login(UserFactory(role="ops_manager", regions=[busy_region]))
    page = client.get("/admin/")
    assert page.status_code == 200
    week = week_of(TODAY)
    this_week = utilisation.utilisation_by_site(db.session, week, {busy_region.id})
    last_week = utilisation.utilisation_by_site(db.session, shift_week(week, -1), {busy_region.id})
    assert [site["code"] for site in this_week] == ["GRN"]
    assert this_week[0]["utilisation"] and last_week[0]["utilisation"]
    row = re.search(r"GRN · .*?</tr>", page.text, re.S).group(0)
    assert (
        percent(this_week[0]["utilisation"]) in row and percent(last_week[0]["utilisation"]) in row
    )
    staff = followup.staff_credentials(db.session, busy_region.id, TODAY)
    expected = {s: sum(1 for c in staff if c["status"] == s) for s in ("expiring", "expired")}
    assert expected == {"expiring": 1, "expired": 1}
    assert re.search(rf'id="staff-expiring">(?:<a [^>]*>)?{expected["expiring"]}<', page.text)
    assert re.search(rf'id="staff-expired">(?:<a [^>]*>)?{expected["expired"]}<', page.text)
    assert "CHI" not in page.text  # another region's site (its DEA expiring) is not counted
    assert re.search(r'id="site-expiring">(?:<a [^>]*>)?0<', page.text)


def test_dashboard_chart_is_inline_svg_with_both_weeks(client, auth, busy_region):
    auth.login(UserFactory(role="admin"))
    page = client.get("/admin/").text
    chart = re.search(r'<svg[^>]*id="utilisation-chart".*?</svg>', page, re.S).group(0)
    assert "this week" in chart and "last week" in chart
    assert chart.count('class="bar"') == 2 * 2  # two sites, two weeks each
    assert not re.search(r'(src|href)="https?://', page)


def test_admin_dashboard_counts_every_region(client, auth, busy_region):
    auth.login(UserFactory(role="admin"))
    page = client.get("/admin/").text
    assert re.search(r'id="site-expiring">(?:<a [^>]*>)?1<', page)  # CHI's DEA in 10 days


def _href(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>[^<]*(?:<strong>)?<a [^>]*href="([^"]+)"', page)
    assert found, f"#{element_id} has no link"
    return found.group(1).replace("&amp;", "&")


def test_site_registration_figures_link_to_the_registrations_in_that_status(
    client, auth, busy_region
):
    auth.login(UserFactory(role="admin"))
    expiring = client.get(_href(client.get("/admin/").text, "site-expiring")).text
    rows = re.findall(r"<tr>\s*<td[^>]*>\s*<input[^>]*rowid", expiring)
    assert len(rows) == 1  # CHI's DEA registration, expiring in 10 days; GRN's is valid
    assert "CHI" in expiring and "GRN" not in expiring


def test_stalled_figures_link_to_the_stalled_referrals_of_that_stage(client, auth, busy_region):
    site = busy_region.locations[0]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    received = ReferralFactory(consult_location=site, status_changed_at=long_ago)
    consulted = ReferralFactory(
        consult_location=site, status="consulted", status_changed_at=long_ago
    )
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    page = client.get("/admin/").text
    listed = client.get(_href(page, "stalled-received")).text
    assert f"?id={received.id}&" in listed and f"?id={consulted.id}&" not in listed
    listed = client.get(_href(page, "stalled-consulted")).text
    assert f"?id={consulted.id}&" in listed and f"?id={received.id}&" not in listed


def test_recent_report_runs_link_to_their_detail_page(client, auth, busy_region):
    run = ReportRun(kind="utilisation", region=busy_region, week=shift_week(week_of(TODAY), -1))
    db.session.add(run)
    db.session.commit()
    auth.login(UserFactory(role="ops_manager", regions=[busy_region]))
    page = client.get("/admin/").text
    assert f'href="/admin/report_runs/details/?id={run.id}"' in page
    assert 'href="/admin/report_runs/"' in page
    assert client.get(f"/admin/report_runs/details/?id={run.id}").status_code == 200
