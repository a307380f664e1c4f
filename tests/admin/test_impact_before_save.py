"""Impact before saving: a closure, room or credential change that would put future bookings at
risk lists them and is saved only once the user confirms what they saw."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from opsadmin import models as m
from opsadmin.bookings import impact
from opsadmin.extensions import db
from opsadmin.locations.service import local_datetime
from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    RoomFactory,
    UserFactory,
    licensed_clinician,
)

NOW = dt.datetime.now(dt.UTC)
DAY = (NOW + dt.timedelta(days=10)).date()


def at(location, day, time):
    return local_datetime(location, day, dt.time.fromisoformat(time))


@pytest.fixture
def site(session):
    ensure_default_rules(session)
    location = LocationFactory(code="GRN")
    room = RoomFactory(location=location, name="Infusion A", capacity=2)
    staff = licensed_clinician([location], name="Dr Ada Lane")
    session.flush()
    return location, room, staff


def booking(room, staff, starts, minutes=60, **kwargs):
    return AppointmentFactory(
        room=room,
        staff=staff,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=minutes),
        **kwargs,
    )


def ids(appointments):
    return [a.external_id for a in appointments]


def test_location_closure_hits_only_future_live_bookings_on_its_local_days(session, site):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="HIT")
    booking(room, staff, at(location, DAY, "23:00"), external_id="LATE-LOCAL")  # 04:00 UTC next day
    booking(room, staff, at(location, DAY, "11:00"), external_id="GONE", status="cancelled")
    booking(room, staff, at(location, DAY + dt.timedelta(days=1), "09:00"), external_id="AFTER")
    past = (NOW - dt.timedelta(days=2)).date()
    booking(room, staff, at(location, past, "09:00"), external_id="PAST")
    hit = impact.hit_by_location_closure(session, location, DAY, DAY)
    assert ids(hit) == ["HIT", "LATE-LOCAL"]
    assert ids(impact.hit_by_location_closure(session, location, past, past)) == []


def test_room_closure_hits_overlapping_bookings_half_open(session, site):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="ENDS-AT-START")
    booking(room, staff, at(location, DAY, "10:30"), external_id="INSIDE")
    booking(room, staff, at(location, DAY, "12:00"), external_id="STARTS-AT-END")
    hit = impact.hit_by_room_closure(
        session, room.id, at(location, DAY, "10:00"), at(location, DAY, "12:00")
    )
    assert ids(hit) == ["INSIDE"]


def test_lowered_capacity_hits_the_later_of_overlapping_bookings_and_closing_hits_all(
    session, site
):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), 120, external_id="FIRST")
    booking(room, staff, at(location, DAY, "10:00"), external_id="SECOND")
    booking(room, staff, at(location, DAY, "13:00"), external_id="ALONE")
    room.capacity = 1
    assert ids(impact.hit_by_room_change(session, room)) == ["SECOND"]
    room.capacity = 2
    assert ids(impact.hit_by_room_change(session, room)) == []
    room.active = False
    assert ids(impact.hit_by_room_change(session, room)) == ["FIRST", "SECOND", "ALONE"]


def test_credential_lapsing_before_a_booking_hits_it(session, site):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="SOON")
    booking(room, staff, at(location, DAY + dt.timedelta(days=30), "09:00"), external_id="LATER")
    licence = next(c for c in staff.credentials if c.kind == "state_license")
    session.commit()
    licence.expires_on = DAY + dt.timedelta(days=5)
    assert ids(impact.hit_by_credential_change(session, licence)) == ["LATER"]
    licence.verified_on = None
    assert ids(impact.hit_by_credential_change(session, licence)) == ["SOON", "LATER"]


def test_deactivating_or_unassigning_a_clinician_hits_their_bookings(session, site):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="MINE")
    session.commit()
    assert ids(impact.hit_by_staff_change(session, staff)) == []
    staff.locations = []
    assert ids(impact.hit_by_staff_change(session, staff)) == ["MINE"]
    session.rollback()
    staff.active = False
    assert ids(impact.hit_by_staff_change(session, staff)) == ["MINE"]


# -- the console -------------------------------------------------------------------------------


def digest_in(page: str) -> str:
    return re.search(r'data-confirm-impact="([0-9a-f]+)"', page).group(1)


def test_location_closure_over_a_booked_day_is_saved_only_after_confirming(
    client, auth, session, site
):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="BK-HIT")
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    form = {
        "location": str(location.id),
        "starts_on": DAY.isoformat(),
        "ends_on": DAY.isoformat(),
        "reason": "Burst pipe",
    }
    first = client.post("/admin/location_closures/new/", data=form)
    assert first.status_code == 200
    assert 'id="impact"' in first.text and 'data-external-id="BK-HIT"' in first.text
    assert db.session.scalar(sa.select(sa.func.count(m.LocationClosure.id))) == 0
    wrong = client.post("/admin/location_closures/new/", data={**form, "confirm_impact": "stale"})
    assert 'id="impact"' in wrong.text
    assert db.session.scalar(sa.select(sa.func.count(m.LocationClosure.id))) == 0
    confirmed = client.post(
        "/admin/location_closures/new/", data={**form, "confirm_impact": digest_in(first.text)}
    )
    assert confirmed.status_code == 302
    closure = db.session.scalars(sa.select(m.LocationClosure)).one()
    assert closure.reason == "Burst pipe"


def test_change_without_impact_saves_at_once(client, auth, session, site):
    location, room, staff = site
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    form = {"location": str(location.id), "name": "Infusion A", "kind": "infusion"}
    response = client.post(
        f"/admin/rooms/edit/?id={room.id}", data={**form, "capacity": "1", "active": "y"}
    )
    assert response.status_code == 302
    assert db.session.get(m.Room, room.id).capacity == 1


def test_lowering_room_capacity_below_its_bookings_asks_first(client, auth, session, site):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="ONE")
    booking(room, staff, at(location, DAY, "09:30"), external_id="TWO")
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    form = {"location": str(location.id), "name": "Infusion A", "kind": "infusion", "active": "y"}
    first = client.post(f"/admin/rooms/edit/?id={room.id}", data={**form, "capacity": "1"})
    assert 'data-external-id="TWO"' in first.text and 'data-external-id="ONE"' not in first.text
    assert db.session.get(m.Room, room.id).capacity == 2
    confirmed = client.post(
        f"/admin/rooms/edit/?id={room.id}",
        data={**form, "capacity": "1", "confirm_impact": digest_in(first.text)},
    )
    assert confirmed.status_code == 302
    db.session.expire_all()
    assert db.session.get(m.Room, room.id).capacity == 1


def test_credential_edit_in_the_console_asks_before_lapsing_a_booking(client, auth, session, site):
    location, room, staff = site
    booking(room, staff, at(location, DAY, "09:00"), external_id="BK-LICENCE")
    licence = next(c for c in staff.credentials if c.kind == "state_license")
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    form = {
        "staff": str(staff.id), "kind": "state_license", "number": licence.number, "state": "IN",
        "issued_on": licence.issued_on.isoformat(), "verified_on": licence.verified_on.isoformat(),
        "verified_by": "credentialing", "expires_on": (DAY - dt.timedelta(days=1)).isoformat(),
    }  # fmt: skip
    first = client.post(f"/admin/credentials/edit/?id={licence.id}", data=form)
    assert 'data-external-id="BK-LICENCE"' in first.text
    db.session.expire_all()
    assert db.session.get(m.Credential, licence.id).expires_on > DAY
    confirmed = client.post(
        f"/admin/credentials/edit/?id={licence.id}",
        data={**form, "confirm_impact": digest_in(first.text)},
    )
    assert confirmed.status_code == 302
    db.session.expire_all()
    assert db.session.get(m.Credential, licence.id).expires_on < DAY
