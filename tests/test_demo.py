"""The demo chain (`opsadmin seed-demo`): idempotent, and every rule of DESIGN §4 holds on it.

The chain is seeded once for the module (it takes seconds); the tests read it. ``app`` is
overridden here so that the shared ``client``/``runner``/``auth`` fixtures use the seeded app.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

import flask
import pytest
import sqlalchemy as sa
from flask import Flask

from opsadmin import demo
from opsadmin import models as m
from opsadmin.app import create_app
from opsadmin.audit.service import acting_as
from opsadmin.bookings.service import max_overlap
from opsadmin.db import Base, utcnow
from opsadmin.extensions import db
from opsadmin.locations.licensing import missing_registrations
from opsadmin.locations.service import is_open_between, local_date, open_intervals
from opsadmin.referrals.service import TRANSITIONS
from opsadmin.reports import service as reports_service
from opsadmin.staff.eligibility import eligibility, eligibility_many
from opsadmin.staff.service import credential_status
from tests.conftest import _empty_tables

NOW = utcnow()


@pytest.fixture(scope="module")
def seeded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("demo-instance")),
            "REDIS_URL": None,
            "WTF_CSRF_ENABLED": False,
            "OPSADMIN_REQUIRE_TOTP": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        with acting_as(demo.ACTOR):
            demo.seed_demo(db.session, now=NOW)
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


def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def _appointments() -> list[m.Appointment]:
    return list(db.session.scalars(sa.select(m.Appointment)))


# -- idempotence ---------------------------------------------------------------------------------


def test_seeding_twice_adds_nothing(runner):
    before = _row_counts()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "nothing added" in result.output
    assert _row_counts() == before


def test_seeding_a_fresh_database_adds_the_whole_chain(session):
    counts = _row_counts()
    assert counts["region"] == 2
    assert counts["location"] == 5
    assert 20 <= counts["staff_member"] <= 30
    assert counts["referral"] >= 50
    assert counts["appointment"] > 2000
    assert counts["credential_rule"] > 0


def test_missing_master_data_is_added_back_and_edits_are_kept(session):
    region = session.scalar(sa.select(m.Region).where(m.Region.code == "IL"))
    region.lead_emails = ["someone.else@example.org"]  # an operator's edit
    before = _row_counts()
    session.delete(session.scalars(sa.select(m.CredentialRule)).first())
    session.flush()
    with acting_as(demo.ACTOR):
        added = demo.seed_demo(session, now=NOW + dt.timedelta(days=3))
    assert added == {"credential_rules": 1}
    assert region.lead_emails == ["someone.else@example.org"]
    assert {k: v for k, v in _row_counts().items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }


# -- the chain's shape ---------------------------------------------------------------------------


def test_regions_sites_and_time_zones(session):
    sites = {loc.code: loc for loc in session.scalars(sa.select(m.Location))}
    assert {code: loc.region.code for code, loc in sites.items()} == {
        "GRN": "IN",
        "IND": "IN",
        "BLM": "IN",
        "CHI": "IL",
        "NPV": "IL",
    }
    assert sites["GRN"].timezone == "America/Indiana/Indianapolis"
    assert sites["CHI"].timezone == "America/Chicago"
    assert all(loc.opening_hours and loc.address_line1 and loc.phone for loc in sites.values())
    leads = {r.code: r.lead_emails for r in session.scalars(sa.select(m.Region))}
    assert leads["IN"] == ["lead.indiana@example.org"]


def test_rooms_of_every_kind_with_one_to_four_chairs(session):
    rooms = list(session.scalars(sa.select(m.Room)))
    assert {r.kind for r in rooms} == {"infusion", "consult", "recovery"}
    assert {r.capacity for r in rooms if r.kind == "infusion"} == {1, 2, 3, 4}


def test_holiday_closures_exist_in_the_window(session):
    closures = list(session.scalars(sa.select(m.LocationClosure)))
    today = NOW.date()
    assert any(c.ends_on < today for c in closures)
    assert any(c.starts_on > today for c in closures)


def test_each_site_has_a_dea_registration_and_one_state_csr_expires_soon(session):
    registrations = list(session.scalars(sa.select(m.SiteRegistration)))
    today = NOW.date()
    for location in session.scalars(sa.select(m.Location)):
        assert missing_registrations(session, location, today) == []
    assert any(
        r.kind == "state_csr" and 0 <= (r.expires_on - today).days <= 60 for r in registrations
    )


# -- the special cases the demo is there to show -------------------------------------------------


def _staff(session, email_local: str) -> m.StaffMember:
    return session.scalar(
        sa.select(m.StaffMember).where(m.StaffMember.email.startswith(email_local + "@"))
    )


def test_clinician_licensed_in_indiana_only_is_ineligible_in_chicago(session):
    hale = _staff(session, "morgan.hale")
    sites = {loc.code: loc for loc in hale.locations}
    assert set(sites) == {"GRN", "CHI"}
    assert {c.state for c in hale.credentials if c.kind == "state_license"} == {"IN"}
    today = NOW.date()
    assert eligibility(session, hale.id, sites["GRN"].id, today, "infusion").eligible
    in_chicago = eligibility(session, hale.id, sites["CHI"].id, today, "infusion")
    assert not in_chicago.eligible
    assert {"kind": "state_license", "state": "IL", "reason": "missing"} in in_chicago.missing


def test_credentials_expired_expiring_and_unverified_exist(session):
    today = NOW.date()
    statuses = Counter(
        credential_status(c, today) for c in session.scalars(sa.select(m.Credential))
    )
    assert statuses["expired"] == 1
    assert statuses["unverified"] == 1
    assert statuses["expiring"] >= 2
    assert statuses["valid"] > 40


def test_no_credential_is_issued_or_verified_in_the_future(session):
    today = NOW.date()
    future = [
        (c.staff.name, c.kind, c.issued_on)
        for c in session.scalars(sa.select(m.Credential))
        if c.issued_on > today or (c.verified_on is not None and c.verified_on < c.issued_on)
    ]
    assert not future


def test_expired_acls_stops_infusions_but_not_consults(session):
    brooks = _staff(session, "casey.brooks")
    blm = next(loc for loc in brooks.locations if loc.code == "BLM")
    today = NOW.date()
    assert not eligibility(session, brooks.id, blm.id, today, "infusion").eligible
    assert eligibility(session, brooks.id, blm.id, today, "consult").eligible


# -- every booking rule holds --------------------------------------------------------------------


def test_no_room_is_ever_over_capacity(session):
    by_room: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for a in _appointments():
        if a.status != "cancelled":
            by_room[a.room_id].append((a.starts_at, a.ends_at))
    for room_id, intervals in by_room.items():
        room = session.get(m.Room, room_id)
        start, end = min(i[0] for i in intervals), max(i[1] for i in intervals)
        assert max_overlap(intervals, start, end) <= room.capacity, room


def _not_at_risk() -> list[m.Appointment]:
    """The appointments every rule still accepts (the demo puts a few at risk on purpose)."""
    return [a for a in _appointments() if not a.at_risk]


def test_every_appointment_suits_its_room_and_lies_inside_opening_hours(session):
    closures = list(session.scalars(sa.select(m.RoomClosure)))
    assert any(c.ends_at < NOW for c in closures) and any(c.starts_at > NOW for c in closures)
    for a in _not_at_risk():
        assert not any(
            c.room_id == a.room_id and c.starts_at < a.ends_at and a.starts_at < c.ends_at
            for c in closures
        ), a
        assert a.room.location_id == a.location_id
        assert a.room.kind == ("infusion" if a.kind == "infusion" else "consult"), a
        # is_open_between also refuses holiday closures.
        assert is_open_between(a.location, a.starts_at, a.ends_at), a
        assert (a.ends_at - a.starts_at).total_seconds() % 60 == 0


def test_every_clinician_is_eligible_and_every_infusion_site_licensed(session):
    staff_ids = list(session.scalars(sa.select(m.StaffMember.id)))
    # Eligibility can change only on a day some credential is issued, verified or lapses: ask
    # once per stretch between such days (asking per day takes half a minute).
    changes = sorted(
        {
            day
            for c in session.scalars(sa.select(m.Credential))
            for day in (c.issued_on, c.verified_on, c.expires_on + dt.timedelta(days=1))
            if day is not None
        }
    )
    answers: dict[tuple, dict] = {}
    for a in _not_at_risk():
        day = local_date(a.location, a.starts_at)
        key = (a.location_id, bisect.bisect_right(changes, day), a.kind)
        if key not in answers:
            answers[key] = eligibility_many(session, staff_ids, a.location_id, day, a.kind)
        assert answers[key][a.staff_id].eligible, (a, answers[key][a.staff_id].missing)
        if a.kind == "infusion":
            assert missing_registrations(session, a.location, day) == []


def test_a_few_bookings_are_at_risk_out_of_the_box(session, client, auth):
    at_risk = [a for a in _appointments() if a.at_risk]
    reasons = {reason for a in at_risk for reason in a.at_risk}
    assert {"location_closed", "staff_not_eligible"} <= reasons
    assert 0 < len(at_risk) < 60, Counter(tuple(a.at_risk) for a in at_risk)
    assert {a.location.code for a in at_risk if "location_closed" in a.at_risk} == {"GRN"}


def test_past_appointments_are_final_and_future_ones_booked(session):
    statuses = Counter()
    for a in _appointments():
        if a.ends_at <= NOW:
            assert a.status in ("completed", "no_show", "cancelled"), a
        else:
            assert a.status == "booked", a
        statuses[a.status] += 1
    past = statuses["completed"] + statuses["no_show"]
    assert 0.02 <= statuses["no_show"] / past <= 0.08
    assert statuses["cancelled"] > 0
    assert statuses["booked"] > 100


def test_past_weeks_fill_infusion_chairs_to_55_to_85_percent(session):
    """Booked / available chair-minutes (DESIGN §5), per week for the chain and per site."""
    first, last = NOW.date() - dt.timedelta(days=63), NOW.date() - dt.timedelta(days=8)
    available: Counter = Counter()
    booked: Counter = Counter()
    rooms = session.scalars(sa.select(m.Room).where(m.Room.kind == "infusion"))
    for room in rooms:
        for offset in range((last - first).days + 1):
            day = first + dt.timedelta(days=offset)
            for start, end in open_intervals(room.location, day):
                minutes = (end - start).total_seconds() / 60 * room.capacity
                available[day.isocalendar()[:2]] += minutes
                available[room.location.code] += minutes
    for a in _appointments():
        day = local_date(a.location, a.starts_at)
        if a.kind == "infusion" and a.status != "cancelled" and first <= day <= last:
            minutes = (a.ends_at - a.starts_at).total_seconds() / 60
            booked[day.isocalendar()[:2]] += minutes
            booked[a.location.code] += minutes
    for key, minutes in available.items():
        assert 0.55 <= booked[key] / minutes <= 0.85, key


def test_patients_are_opaque_references_never_names(session):
    pattern = re.compile(r"^P-\d{5}$")
    refs = set(session.scalars(sa.select(m.Appointment.patient_ref)))
    refs |= set(session.scalars(sa.select(m.Referral.patient_ref)))
    assert refs and all(pattern.match(ref) for ref in refs)


# -- referrals -----------------------------------------------------------------------------------


def test_referrals_cover_every_state(session):
    statuses = Counter(session.scalars(sa.select(m.Referral.status)))
    assert set(statuses) == set(TRANSITIONS)
    assert 50 <= sum(statuses.values()) <= 70


def test_each_referrals_events_replay_to_its_status(session):
    for referral in session.scalars(sa.select(m.Referral)):
        events = referral.events
        assert events[0].from_status is None and events[0].to_status == "received"
        for previous, event in zip(events, events[1:], strict=False):
            assert event.from_status == previous.to_status, referral
            assert event.to_status in TRANSITIONS[previous.to_status], referral
            assert event.at >= previous.at, referral
        assert events[-1].to_status == referral.status
        assert referral.status_changed_at == events[-1].at
        assert all(e.actor_type == "system" and e.actor_label == "seed-demo" for e in events)
        assert all(e.at <= NOW for e in events)


def test_decided_referrals_have_a_physicians_screening(session):
    decided = {"approved", "declined", "treatment_scheduled", "in_treatment", "completed"}
    for referral in session.scalars(sa.select(m.Referral)):
        passed = {e.to_status for e in referral.events}
        if "approved" in passed or "declined" in passed:
            screening = referral.screenings[-1]
            assert screening.decided_by.role == "physician"
            assert screening.decision == ("approved" if "approved" in passed else "declined")
            if screening.decision == "approved" and screening.flags:
                assert screening.override
        else:
            assert referral.status not in decided and not referral.screenings


def test_infusions_belong_only_to_referrals_on_the_treatment_path(session):
    linked = defaultdict(list)
    for a in _appointments():
        if a.referral_id is not None:
            linked[a.referral_id].append(a)
    for referral in session.scalars(sa.select(m.Referral)):
        infusions = [a for a in linked[referral.id] if a.kind == "infusion"]
        completed = [a for a in infusions if a.status == "completed"]
        assert referral.sessions_completed == len(completed)
        assert all(a.location_id == referral.treatment_location_id for a in infusions)
        assert all(a.patient_ref == referral.patient_ref for a in linked[referral.id])
        if infusions:
            assert referral.status in ("treatment_scheduled", "in_treatment", "completed")
            first_booked = next(e.at for e in referral.events if e.to_status == "approved")
            assert min(a.starts_at for a in infusions) > first_booked
        if referral.status == "completed":
            last = max(a.starts_at for a in completed)
            due = local_date(referral.treatment_location, last) + dt.timedelta(days=14)
            assert referral.follow_up_due_on == due
            assert len(completed) == referral.planned_sessions


def test_the_audit_log_names_seed_demo(session):
    events = list(
        session.scalars(sa.select(m.AuditEvent).where(m.AuditEvent.actor_label == "seed-demo"))
    )
    entities = {e.entity for e in events}
    assert {"Location", "StaffMember", "Referral", "Appointment"} <= entities


# -- the console ---------------------------------------------------------------------------------

# Models the demo has no rows for, and why. Keep this short: the demo should fill every list.
NOT_SEEDED: dict[str, str] = {}


def _list_views(app: Flask) -> list:
    from flask_admin.contrib.sqla import ModelView

    admin = app.extensions["opsadmin_admin"]
    return [view for view in admin._views if isinstance(view, ModelView)]


def test_every_console_list_view_shows_rows_after_the_demo_is_prepared(app, client, auth, session):
    with acting_as(demo.ACTOR):
        logins = demo.ensure_demo_logins(session)
        demo.ensure_demo_api_key(session)
        # `opsadmin demo` dispatches last week's reports; recording the runs is enough here
        # (with REDIS_URL set the dispatcher would leave jobs in a queue other tests share).
        reports_service.record_due_runs(session, utcnow())
    session.commit()
    admin = next(login for login in logins if login.role == "admin")
    user = session.scalar(sa.select(m.User).where(m.User.email == admin.email))
    assert auth.login(user, admin.password).status_code in (302, 303)
    views = _list_views(app)
    assert views, "no console list views registered"
    empty = []
    for view in views:
        if view.model.__name__ in NOT_SEEDED:
            continue
        with app.test_request_context():
            url = flask.url_for(f"{view.endpoint}.index_view")
            nothing = str(view.get_empty_list_message())
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if nothing in response.get_data(as_text=True):
            empty.append(url)
    assert not empty, f"list views with no rows after seed-demo: {empty}"
