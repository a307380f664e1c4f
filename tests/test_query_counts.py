"""SQL statements per console list page and per report build stay constant as the data grows.

A regular test, not a timed one (the figures live in benchmarks/). What is counted: every statement
the app's engine sends (a ``before_cursor_execute`` listener) while one request, or one report
build, runs — minus the statements on the sign-in tables (``user_account``, ``user_region``,
``console_session``): the per-request session check, which belongs to signing in, not to the page.
A list page must issue the same number at page sizes 20 and 100, and at most six; a report build
the same number for 10 and for 1,000 appointments in its week. Runs on SQLite and, with
DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from opsadmin import models as m
from opsadmin.extensions import db
from opsadmin.locations.service import local_datetime
from opsadmin.reports.weeks import week_days
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RoomFactory,
    UserFactory,
    licensed_clinician,
)

MAX_STATEMENTS_PER_PAGE = 6
SIGN_IN_TABLES = re.compile(r"\b(user_account|user_region|console_session)\b")
LIST_MODELS = ("Appointment", "Referral", "Credential", "AuditEvent")
WEEK = "2026-W10"


@contextmanager
def counted() -> Iterator[list[str]]:
    with counted_on(db.engine) as statements:
        yield statements


@contextmanager
def counted_on(engine) -> Iterator[list[str]]:
    """Every statement ``engine`` sends while the block runs."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def page_statements(statements: list[str]) -> list[str]:
    return [s for s in statements if not SIGN_IN_TABLES.search(s)]


def list_url(app, model: str) -> str:
    from flask import url_for

    for view in app.extensions["opsadmin_admin"]._views:
        if getattr(getattr(view, "model", None), "__name__", None) == model:
            with app.test_request_context():
                return url_for(f"{view.endpoint}.index_view")
    pytest.skip(f"no console list view for {model} yet")


def appointments_in_week(room: m.Room, staff: m.StaffMember, count: int, first: int = 0) -> None:
    """``count`` appointments spread over the week's local days and hours, in one flush."""
    days = week_days(WEEK)[:6]
    for n in range(first, first + count):
        starts = local_datetime(room.location, days[n % 6], dt.time(8 + n % 9, 0))
        db.session.add(
            m.Appointment(
                external_id=f"QC-{n}", location=room.location, room=room, staff=staff,
                kind="infusion", indication="migraine", patient_ref=f"P-QC{n}",
                starts_at=starts, ends_at=starts + dt.timedelta(minutes=60),
                status=("completed", "no_show", "booked", "cancelled")[n % 4],
            )
        )  # fmt: skip
    db.session.flush()


@pytest.fixture
def chain(session):
    """One site with rooms, a clinician and more than 100 rows in every listed table."""
    location = LocationFactory(code="GRN")
    room = RoomFactory(location=location, capacity=4)
    RoomFactory(location=location, kind="consult", capacity=1)
    staff = licensed_clinician([location])
    appointments_in_week(room, staff, 110)
    ReferralFactory.create_batch(110, consult_location=location)
    CredentialFactory.create_batch(110, staff=staff, kind="bls", state=None)
    session.commit()  # the audit hook has written an event for every row above
    return location, room, staff


@pytest.mark.parametrize("model", LIST_MODELS)
def test_console_list_page_issues_same_few_statements_at_any_page_size(
    app, client, auth, chain, model
):
    url = list_url(app, model)
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)
    client.get(url)  # the first page after signing in also refreshes the session: not measured
    counts = {}
    for size in (20, 100):
        with counted() as statements:
            response = client.get(f"{url}?page_size={size}")
        assert response.status_code == 200
        assert response.text.count("<tr") >= min(size, 110), "the page did not list its rows"
        counts[size] = len(page_statements(statements))
    assert counts[20] == counts[100], counts
    assert counts[100] <= MAX_STATEMENTS_PER_PAGE, counts


@pytest.mark.parametrize("kind", ["utilisation", "followup"])
def test_report_build_issues_same_statements_for_10_or_1000_appointments(app, session, kind):
    from opsadmin.reports.service import build_figures

    location = LocationFactory(code="GRN")
    room = RoomFactory(location=location, capacity=4)
    staff = licensed_clinician([location])
    appointments_in_week(room, staff, 10)
    session.commit()
    with counted() as few:
        build_figures(session, kind, location.region.code, WEEK)
    session.rollback()
    appointments_in_week(room, staff, 990, first=10)
    session.commit()
    with counted() as many:
        build_figures(session, kind, location.region.code, WEEK)
    assert len(few) == len(many), (len(few), len(many))


def test_availability_issues_same_statements_for_few_or_many_clinicians(app, session):
    from opsadmin.bookings.availability import availability
    from opsadmin.staff.service import ensure_default_rules

    ensure_default_rules(session)
    location = LocationFactory(code="GRN")
    room = RoomFactory(location=location, capacity=4)
    staff = licensed_clinician([location])
    appointments_in_week(room, staff, 10)
    session.commit()
    day = week_days(WEEK)[1]
    availability(session, "GRN", day, "infusion", 120)  # the site's master data into the cache
    session.rollback()
    with counted() as few:
        availability(session, "GRN", day, "infusion", 120)
    session.rollback()
    for _ in range(12):
        licensed_clinician([location])
    appointments_in_week(room, staff, 200, first=10)
    session.commit()
    availability(session, "GRN", day, "infusion", 120)  # the new roster into the cache
    session.rollback()
    with counted() as many:
        answer = availability(session, "GRN", day, "infusion", 120)
    assert len(answer.eligible_staff) == 13
    assert len(few) == len(many), (len(few), len(many))


def test_week_availability_issues_same_statements_for_a_day_or_a_week_of_bookings(app, session):
    """A week is read at once: the same statements for one day of it or all seven, for one day's
    or seven days' bookings, for one clinician or thirteen (master data cached: hours, rooms and
    rules are not read again while no write has changed them)."""
    from opsadmin.bookings.availability import availability_window
    from opsadmin.staff.service import ensure_default_rules

    ensure_default_rules(session)
    location = LocationFactory(code="GRN")
    room = RoomFactory(location=location, capacity=4)
    staff = licensed_clinician([location])
    days = week_days(WEEK)
    for n, day in enumerate([days[1]] * 6):
        starts = local_datetime(location, day, dt.time(8 + n, 0))
        db.session.add(
            m.Appointment(
                external_id=f"WK-{n}", location=location, room=room, staff=staff,
                kind="infusion", indication="migraine", patient_ref=f"P-WK{n}",
                starts_at=starts, ends_at=starts + dt.timedelta(minutes=60),
            )
        )  # fmt: skip
    session.commit()
    availability_window(session, "GRN", days[0], days[6], "infusion", 120)  # warm the cache
    session.rollback()
    with counted() as one_day:
        availability_window(session, "GRN", days[1], days[1], "infusion", 120)
    session.rollback()
    with counted() as few:
        availability_window(session, "GRN", days[0], days[6], "infusion", 120)
    session.rollback()
    for _ in range(12):
        licensed_clinician([location])
    appointments_in_week(room, staff, 300, first=10)
    session.commit()
    with counted() as cold:  # the roster changed: it is read again, once
        availability_window(session, "GRN", days[0], days[6], "infusion", 120)
    session.rollback()
    with counted() as many:
        answer = availability_window(session, "GRN", days[0], days[6], "infusion", 120)
    assert len(answer.days) == 7
    assert all(len(day.eligible_staff) == 13 for day in answer.days)
    assert any(slot.free_chairs < 4 for day in answer.days for slot in day.slots)
    assert len(one_day) == len(few) == len(many), (len(one_day), len(few), len(many))
    assert len(many) <= 3, many  # BEGIN (SQLite), the cache token, the window
    # Cold: + site, hours, holidays, registrations, its licensing (registrations, site rules),
    # rooms, credential rules, the roster's staff and their credentials — ten, however many rows.
    assert len(cold) == len(many) + 10, cold
