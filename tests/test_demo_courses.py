"""The demo chain's treatment courses: full courses spaced as the course rules say, one broken off
(the dashboard counts it), and one approved referral for which "Propose course" finds a course."""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from opsadmin import models as m
from opsadmin.bookings.courses import course_appointments, course_options
from opsadmin.demo.courses import COURSES, SITE
from opsadmin.extensions import db
from opsadmin.locations.service import local_date
from opsadmin.reports.courses import course_figures
from tests.test_demo import NOW, app, seeded  # noqa: F401 - the seeded demo chain


def course_referrals() -> list[m.Referral]:
    # The course stories' patients are numbered after every other demo referral's.
    return [
        r
        for r in db.session.scalars(sa.select(m.Referral).order_by(m.Referral.id))
        if r.treatment_location.code == SITE and int(r.patient_ref[2:]) > 27000
    ]


def test_the_demo_has_each_course_story(app):  # noqa: F811
    statuses = sorted(r.status for r in course_referrals())
    assert statuses == sorted(status for status, *_ in COURSES)


def test_full_courses_follow_the_spacing_rules(app):  # noqa: F811
    courses = [r for r in course_referrals() if r.status in ("completed", "treatment_scheduled")]
    assert len(courses) == 3
    for referral in courses:
        sessions = course_appointments(db.session, referral.id)
        if referral.status == "completed":
            assert [a.status for a in sessions] == ["completed"] * 6
        else:  # booked ahead within the demo's two weeks of future bookings
            assert len(sessions) >= 4 and {a.status for a in sessions} == {"booked"}
        days = [local_date(referral.treatment_location, a.starts_at) for a in sessions]
        assert all(1 <= (b - a).days <= 7 for a, b in itertools.pairwise(days))


def test_one_course_is_broken_off_and_the_dashboard_counts_it(app):  # noqa: F811
    [broken] = [r for r in course_referrals() if r.status == "in_treatment"]
    sessions = course_appointments(db.session, broken.id)
    assert [a.status for a in sessions] == ["completed", "completed"]
    figures = {row["location"]: row for row in course_figures(db.session, NOW.date())}
    assert figures[SITE]["broken_off"] >= 1
    assert figures[SITE]["completed"] >= 2


def test_the_waiting_referral_gets_a_course_proposal(app):  # noqa: F811
    [waiting] = [r for r in course_referrals() if r.status == "approved"]
    assert course_appointments(db.session, waiting.id) == []
    proposal = course_options(db.session, waiting.id, sessions=6, now=NOW)
    assert len(proposal.sessions) == 6
