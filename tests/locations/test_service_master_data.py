"""Master-data rules of regions, locations, opening hours, closures and site registrations."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.audit.service import Actor, acting_as
from opsadmin.errors import Conflict, InvalidInput
from opsadmin.locations import service
from opsadmin.locations.models import Location, Region
from tests.factories import AppointmentFactory, LocationFactory, RegionFactory

HOURS = [{"weekday": 0, "opens": "08:00", "closes": "18:00"}]


def _location(session, **overrides):
    values = {
        "code": "GRN",
        "name": "Greencastle",
        "region": "IN",
        "timezone": "America/Indiana/Indianapolis",
        "state": "IN",
        "phone": "+1 765 555 0100",
        "opening_hours": HOURS,
    }
    values.update(overrides)
    return service.create_location(session, **values)


@pytest.fixture
def indiana(session):
    return RegionFactory(code="IN", name="Indiana")


def _events(session, entity):
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == entity)).all()


def test_create_region_with_lead_emails(session):
    region = service.create_region(session, code="IL", name="Illinois", lead_emails=["a@b.org"])
    assert region.id is not None


def test_region_with_bad_lead_email_refused(session):
    with pytest.raises(InvalidInput) as error:
        service.create_region(session, code="IL", name="Illinois", lead_emails=["not-an-email"])
    assert "lead_emails" in error.value.errors


def test_duplicate_region_code_is_a_duplicate_conflict(session, indiana):
    with pytest.raises(Conflict) as error:
        service.create_region(session, code="IN", name="Again")
    assert error.value.code == "duplicate"


def test_create_location_with_hours_audits_actor_and_fields(session, indiana):
    with acting_as(Actor("user", 7, "ops@example.org")):
        location = _location(session)
    session.commit()
    assert [str(h) for h in location.opening_hours] == ["Mon 08:00–18:00"]
    (event,) = _events(session, "Location")
    assert (event.action, event.entity_id, event.actor_label) == (
        "create",
        str(location.id),
        "ops@example.org",
    )
    assert event.changes["code"] == "GRN"


def test_unknown_time_zone_refused_with_readable_message(session, indiana):
    with pytest.raises(InvalidInput) as error:
        _location(session, timezone="Mars/Olympus")
    assert "Unknown time zone 'Mars/Olympus'" in error.value.errors["timezone"][0]


def test_state_must_be_a_us_code(session, indiana):
    with pytest.raises(InvalidInput) as error:
        _location(session, state="XX")
    assert "state" in error.value.errors


def test_bad_phone_refused(session, indiana):
    with pytest.raises(InvalidInput) as error:
        _location(session, phone="call me")
    assert "phone" in error.value.errors


def test_overlapping_hours_of_a_day_refused(session, indiana):
    hours = HOURS + [{"weekday": 0, "opens": "17:00", "closes": "20:00"}]
    with pytest.raises(InvalidInput) as error:
        _location(session, opening_hours=hours)
    assert "overlaps" in error.value.errors["opening_hours"][0]


def test_two_intervals_of_a_day_may_touch(session, indiana):
    hours = HOURS + [{"weekday": 0, "opens": "18:00", "closes": "20:00"}]
    assert len(_location(session, opening_hours=hours).opening_hours) == 2


@pytest.mark.parametrize(
    "interval",
    [
        {"weekday": 7, "opens": "08:00", "closes": "18:00"},
        {"weekday": 1, "opens": "18:00", "closes": "08:00"},
        {"weekday": 1, "opens": "8 o'clock", "closes": "18:00"},
    ],
)
def test_bad_opening_interval_refused(session, indiana, interval):
    with pytest.raises(InvalidInput) as error:
        _location(session, opening_hours=[interval])
    assert "opening_hours" in error.value.errors


def test_duplicate_location_code_refused_and_nothing_saved(session, indiana):
    _location(session)
    session.commit()
    with pytest.raises(Conflict) as error:
        _location(session, name="Second")
    session.rollback()
    assert error.value.code == "duplicate"
    assert session.scalar(sa.select(sa.func.count()).select_from(Location)) == 1
    assert len(_events(session, "Location")) == 1


def test_rejected_write_leaves_no_row_and_no_event(session, indiana):
    with pytest.raises(InvalidInput):
        _location(session, timezone="Mars/Olympus")
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Location)) == 0
    assert _events(session, "Location") == []
    assert _events(session, "OpeningHours") == []


def test_update_location_replaces_hours_and_audits_changes(session, indiana):
    location = _location(session)
    session.commit()
    service.update_location(
        session,
        location,
        name="Greencastle Clinic",
        opening_hours=[{"weekday": 2, "opens": "09:00", "closes": "17:00"}],
    )
    session.commit()
    assert [str(h) for h in location.opening_hours] == ["Wed 09:00–17:00"]
    update = [e for e in _events(session, "Location") if e.action == "update"]
    assert update[0].changes["name"] == ["Greencastle", "Greencastle Clinic"]


def test_update_with_unknown_field_refused(session, indiana):
    location = _location(session)
    with pytest.raises(InvalidInput):
        service.update_location(session, location, colour="blue")


def test_location_closure_must_be_ordered(session):
    location = LocationFactory()
    with pytest.raises(InvalidInput) as error:
        service.add_location_closure(
            session, location, starts_on=dt.date(2026, 12, 26), ends_on=dt.date(2026, 12, 24)
        )
    assert "ends_on" in error.value.errors


def test_location_closures_may_not_overlap(session):
    location = LocationFactory()
    service.add_location_closure(
        session, location, starts_on=dt.date(2026, 12, 24), ends_on=dt.date(2026, 12, 26)
    )
    with pytest.raises(InvalidInput) as error:
        service.add_location_closure(
            session, location, starts_on=dt.date(2026, 12, 26), ends_on=dt.date(2026, 12, 27)
        )
    assert "Overlaps" in error.value.errors["starts_on"][0]
    service.add_location_closure(
        session, location, starts_on=dt.date(2026, 12, 27), ends_on=dt.date(2026, 12, 27)
    )
    assert len(location.closures) == 2


def test_site_registration_needs_state_code_and_known_kind(session):
    location = LocationFactory(dea=False, csr=False)
    with pytest.raises(InvalidInput) as error:
        service.add_site_registration(
            session,
            location,
            kind="fishing",
            number="X1",
            state="ZZ",
            expires_on=dt.date(2027, 1, 1),
        )
    assert set(error.value.errors) == {"kind", "state"}


def test_site_registration_expiry_after_issue(session):
    location = LocationFactory(dea=False, csr=False)
    with pytest.raises(InvalidInput) as error:
        service.add_site_registration(
            session,
            location,
            kind="state_csr",
            number="CSR1",
            state="IN",
            issued_on=dt.date(2027, 1, 1),
            expires_on=dt.date(2026, 1, 1),
        )
    assert "expires_on" in error.value.errors


def test_site_registration_recorded(session):
    location = LocationFactory(dea=False, csr=False)
    registration = service.add_site_registration(
        session,
        location,
        kind="dea_registration",
        number="FG1",
        state="IN",
        expires_on=dt.date(2027, 1, 1),
    )
    assert registration.id and registration.location is location


def test_location_with_appointments_cannot_be_deleted(session):
    appointment = AppointmentFactory()
    with pytest.raises(Conflict) as error:
        service.delete_location(session, appointment.location)
    assert error.value.code == "in_use"
    assert "deactivate" in error.value.message


def test_location_without_history_can_be_deleted(session):
    location = LocationFactory()
    service.delete_location(session, location)
    assert session.get(Location, location.id) is None


def test_get_region_unknown_is_not_found(session):
    from opsadmin.errors import NotFound

    with pytest.raises(NotFound):
        service.get_region(session, "ZZ")
    assert session.scalar(sa.select(sa.func.count()).select_from(Region)) == 0
