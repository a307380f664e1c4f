"""The per-worker cache of master data: a change through one app instance is seen at once by another.

Two ``create_app`` instances over one database stand for two gunicorn workers (or machines): each
keeps its own copy of a site's hours, rooms and the credential rules, and each must notice a write
made through the other, through the ``cache_version`` token, on the very next call.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.app import create_app
from opsadmin.bookings.availability import availability
from opsadmin.extensions import db
from opsadmin.locations.models import Location, OpeningHours
from opsadmin.rooms.models import Room
from opsadmin.staff.models import Credential, CredentialRule
from tests.bookings.conftest import DAY, at
from tests.factories import licensed_clinician


@pytest.fixture
def other(app_config, chain):
    """A second app instance over the same database, its availability cache warmed."""
    second = create_app(app_config)
    with second.app_context():
        warm = availability(db.session, "GRN", DAY, "infusion", 60)
        db.session.rollback()
    assert warm.slots and warm.eligible_staff
    yield second
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


def ask(app, kind="infusion", duration=60):
    with app.app_context():
        try:
            return availability(db.session, "GRN", DAY, kind, duration)
        finally:
            db.session.rollback()


def test_an_hours_change_through_one_instance_is_seen_by_the_other_at_once(session, chain, other):
    tuesday = session.scalars(
        sa.select(OpeningHours).where(
            OpeningHours.location_id == chain.grn.id, OpeningHours.weekday == DAY.weekday()
        )
    ).one()
    tuesday.closes = dt.time(12, 0)
    session.commit()
    answer = ask(other)
    assert answer.slots[-1].starts_at == at(DAY, "11:00")


def test_a_credential_rule_change_is_seen_by_the_other_instance(session, chain, other):
    session.execute(
        sa.delete(CredentialRule).where(
            CredentialRule.role == "physician", CredentialRule.appointment_kind == "infusion"
        )
    )
    session.commit()
    assert ask(other).eligible_staff == []


def test_a_lapsed_credential_is_seen_by_the_other_instance(session, chain, other):
    for credential in session.scalars(
        sa.select(Credential).where(Credential.staff_id == chain.dr_in.id)
    ):
        credential.expires_on = DAY - dt.timedelta(days=1)
    session.commit()
    assert ask(other).eligible_staff == []


def test_a_clinician_assigned_through_one_instance_is_offered_by_the_other(session, chain, other):
    newcomer = licensed_clinician([chain.chi])
    session.commit()
    newcomer.locations.append(session.get(Location, chain.grn.id))
    session.commit()
    assert newcomer.id in {s.id for s in ask(other).eligible_staff}


def test_a_new_room_and_a_closed_site_are_seen_by_the_other_instance(session, chain, other):
    room = Room(location_id=chain.grn.id, name="Infusion 2", kind="infusion", capacity=2)
    session.add(room)
    session.commit()
    assert room.id in {slot.room_id for slot in ask(other).slots}
    session.get(Location, chain.grn.id).active = False
    session.commit()
    assert ask(other).slots == []


def test_a_rolled_back_change_is_seen_by_no_one(session, chain, other):
    chain.grn.active = False
    session.flush()
    assert availability(session, "GRN", DAY, "infusion", 60).slots == []  # its own transaction
    session.rollback()
    assert ask(other).slots
    assert availability(session, "GRN", DAY, "infusion", 60).slots


def test_an_unchanged_site_is_served_from_the_cache(chain, other):
    from tests.test_query_counts import counted_on

    with other.app_context():
        with counted_on(db.engine) as statements:
            availability(db.session, "GRN", DAY, "infusion", 60)
        db.session.rollback()
    assert not [
        s
        for s in statements
        if any(t in s for t in ("opening_hours", "FROM room ", "FROM credential"))
    ]
