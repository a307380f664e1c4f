"""Course figures per site over 90 days (started, completed, broken off, median sessions before a
break): computed by the database, and the same in the follow-up digest and on the dashboard."""

from __future__ import annotations

import datetime as dt

import pytest

from opsadmin.reports.courses import course_figures
from opsadmin.reports.followup import followup_for_region
from opsadmin.reports.render import render
from tests.console_forms import page_text, sign_in
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
    StaffFactory,
)

AS_OF = dt.date(2026, 11, 30)


def days_ago(n: int, hour: int = 15) -> dt.datetime:
    return dt.datetime.combine(AS_OF - dt.timedelta(days=n), dt.time(hour), dt.UTC)


@pytest.fixture
def chain(session):
    region = RegionFactory(code="IN", name="Indiana")
    sites = {code: LocationFactory(code=code, region=region) for code in ("AAA", "BBB", "CCC")}
    far = LocationFactory(code="FAR", region=RegionFactory(code="FR", name="Far"))
    rooms = {code: RoomFactory(location=site) for code, site in {**sites, "FAR": far}.items()}
    staff = StaffFactory()

    def course(code: str, status: str, done_days_ago: list[int], ahead: int = 0, other=()):
        referral = ReferralFactory(consult_location=rooms[code].location, status=status)
        for n in done_days_ago:
            AppointmentFactory(
                room=rooms[code], staff=staff, referral=referral, starts_at=days_ago(n),
                status="completed",
            )  # fmt: skip
        for n in range(ahead):
            AppointmentFactory(
                room=rooms[code], staff=staff, referral=referral, starts_at=days_ago(-2 - n),
            )  # fmt: skip
        for n, status in other:
            AppointmentFactory(
                room=rooms[code], staff=staff, referral=referral, starts_at=days_ago(n),
                status=status,
            )  # fmt: skip
        return referral

    # AAA: one complete course, two broken off (2 and 4 sessions), three still going.
    course("AAA", "completed", [40, 37, 35, 33, 30, 20])
    course("AAA", "in_treatment", [30, 20])  # broken off after 2
    course("AAA", "in_treatment", [60, 50, 45, 30], other=[(25, "no_show")])  # after 4
    course("AAA", "in_treatment", [30, 20], ahead=1)  # a session ahead: going on
    course("AAA", "in_treatment", [10, 5])  # the last only 5 days ago: not yet broken off
    course("AAA", "in_treatment", [200, 120])  # broke off before the window: not counted
    course("AAA", "treatment_scheduled", [], ahead=3)  # booked, not started
    # BBB: three broken off (1, 3, 5 sessions): the median is the middle one.
    course("BBB", "in_treatment", [50])
    course("BBB", "in_treatment", [50, 45, 40])
    course("BBB", "in_treatment", [80, 70, 60, 50, 40])
    # FAR: another region.
    course("FAR", "in_treatment", [40])
    session.commit()
    return region


def by_site(figures):
    return {row["location"]: row for row in figures}


def test_course_figures_per_site(session, chain):
    figures = by_site(course_figures(session, AS_OF, {chain.id}))

    assert set(figures) == {"AAA", "BBB", "CCC"}
    aaa = figures["AAA"]
    # Started in the window: all but the one whose first infusion was 200 days ago.
    assert (aaa["started"], aaa["completed"], aaa["broken_off"]) == (5, 1, 2)
    assert aaa["median_sessions_before_break"] == 3.0  # (2 + 4) / 2
    bbb = figures["BBB"]
    assert (bbb["started"], bbb["completed"], bbb["broken_off"]) == (3, 0, 3)
    assert bbb["median_sessions_before_break"] == 3.0
    ccc = figures["CCC"]
    assert (ccc["started"], ccc["completed"], ccc["broken_off"]) == (0, 0, 0)
    assert ccc["median_sessions_before_break"] is None


def test_all_regions_when_unscoped(session, chain):
    figures = by_site(course_figures(session, AS_OF))
    assert figures["FAR"]["broken_off"] == 1
    assert figures["FAR"]["median_sessions_before_break"] == 1.0


def test_the_follow_up_digest_carries_the_course_figures(session, chain):
    figures = followup_for_region(session, "IN", AS_OF, "2026-W48")
    assert figures["courses"] == course_figures(session, AS_OF, {chain.id})

    artefacts = render(figures, "https://ops.example.org")
    assert 'id="courses"' in artefacts.html
    assert "AAA: 5/1/2, 3" in artefacts.text
    assert "course,BBB,broken_off,3," in artefacts.csv


def test_an_older_digest_without_course_figures_still_renders(session, chain):
    figures = followup_for_region(session, "IN", AS_OF, "2026-W48")
    del figures["courses"]
    assert 'id="courses"' not in render(figures, "https://ops.example.org").html


def test_the_dashboard_shows_the_same_course_figures(client, auth, session, chain):
    sign_in(auth, "ops_manager", regions=[chain])
    text = page_text(client.get("/admin/"))
    today = by_site(course_figures(session, dt.date.today(), {chain.id}))
    assert 'id="panel-courses"' in text
    assert 'id="courses-FAR"' not in text  # another region
    row = text[text.index('id="courses-BBB"') :]
    row = row[: row.index("</tr>")]
    cells = [c.split("</td>")[0] for c in row.split('<td class="text-right">')[1:]]
    expected = today["BBB"]
    assert cells[:3] == [
        str(expected["started"]),
        str(expected["completed"]),
        str(expected["broken_off"]),
    ]
