"""Availability: 15-minute starts inside opening hours, free chairs, closures, DST, bounded queries."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.bookings.availability import availability
from opsadmin.errors import InvalidInput, NotFound
from opsadmin.locations.models import LocationClosure
from opsadmin.rooms.models import RoomClosure
from tests.bookings.conftest import DAY, INDIANA, at
from tests.factories import RoomFactory, StaffFactory

pytestmark = pytest.mark.usefixtures("chain")


def starts(answer, room_id=None):
    return [s.starts_at for s in answer.slots if room_id is None or s.room_id == room_id]


def test_starts_every_15_minutes_from_opening_and_end_by_closing(session, chain):
    answer = availability(session, "GRN", DAY, "infusion", 120)
    got = starts(answer, chain.infusion.id)
    assert got[0] == at(DAY, "08:00")
    assert got[1] == at(DAY, "08:15")
    assert got[-1] == at(DAY, "16:00")
    assert len(got) == 33
    assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=120) for s in answer.slots)
    assert all(s.free_chairs == 3 for s in answer.slots)


def test_each_opening_interval_starts_its_own_slots(session, chain):
    tuesday = [h for h in chain.grn.opening_hours if h.weekday == DAY.weekday()][0]
    tuesday.closes = dt.time(12, 0)
    from opsadmin.locations.models import OpeningHours

    chain.grn.opening_hours.append(
        OpeningHours(weekday=DAY.weekday(), opens=dt.time(13, 10), closes=dt.time(15, 0))
    )
    session.flush()
    got = starts(availability(session, "GRN", DAY, "infusion", 60), chain.infusion.id)
    assert at(DAY, "11:00") in got and at(DAY, "11:15") not in got
    assert got[got.index(at(DAY, "11:00")) + 1] == at(DAY, "13:10")
    assert got[-1] == at(DAY, "13:55")  # 13:10 + 3 × 15 min; the next would end after 15:00


def test_free_chairs_is_capacity_minus_the_most_overlapping(session, book, chain):
    book(starts_at=at(DAY, "09:00"), ends_at=at(DAY, "10:00"))
    book(starts_at=at(DAY, "09:30"), ends_at=at(DAY, "11:00"))
    book(starts_at=at(DAY, "10:30"), ends_at=at(DAY, "11:00"))
    by_start = {
        s.starts_at: s.free_chairs
        for s in availability(session, "GRN", DAY, "infusion", 60).slots
        if s.room_id == chain.infusion.id
    }
    assert by_start[at(DAY, "08:00")] == 3  # the 09:00 appointment starts as the slot ends
    assert by_start[at(DAY, "09:00")] == 1
    assert by_start[at(DAY, "10:00")] == 1
    assert by_start[at(DAY, "11:00")] == 3


def test_full_slots_are_not_listed(session, book, chain):
    for _ in range(3):
        book(starts_at=at(DAY, "09:00"), ends_at=at(DAY, "10:00"))
    got = starts(availability(session, "GRN", DAY, "infusion", 30), chain.infusion.id)
    assert at(DAY, "08:30") in got
    assert at(DAY, "08:45") not in got and at(DAY, "09:45") not in got
    assert at(DAY, "10:00") in got


def test_cancelled_appointments_free_their_chair(session, book, chain):
    from opsadmin.bookings.service import change_status

    for n in range(3):
        book(external_id=f"BK-{n}", starts_at=at(DAY, "09:00"), ends_at=at(DAY, "10:00"))
    session.commit()
    change_status(session, "BK-0", "cancelled")
    session.commit()
    answer = availability(session, "GRN", DAY, "infusion", 60)
    nine = [s for s in answer.slots if s.starts_at == at(DAY, "09:00")]
    assert [s.free_chairs for s in nine] == [1]


def test_consults_are_offered_in_consult_rooms_only(session, chain):
    answer = availability(session, "GRN", DAY, "consult", 30)
    assert {s.room_id for s in answer.slots} == {chain.consult.id}
    follow_up = availability(session, "GRN", DAY, "follow_up", 30)
    assert {s.room_id for s in follow_up.slots} == {chain.consult.id}


def test_inactive_rooms_offer_nothing(session, chain):
    chain.infusion.active = False
    session.flush()
    assert availability(session, "GRN", DAY, "infusion", 60).slots == []


def test_room_maintenance_removes_its_slots(session, chain):
    session.add(
        RoomClosure(room=chain.infusion, starts_at=at(DAY, "12:00"), ends_at=at(DAY, "14:00"))
    )
    session.flush()
    got = starts(availability(session, "GRN", DAY, "infusion", 60))
    assert at(DAY, "11:00") in got
    assert at(DAY, "11:15") not in got and at(DAY, "13:45") not in got
    assert at(DAY, "14:00") in got


def test_location_holiday_offers_nothing(session, chain):
    session.add(LocationClosure(location=chain.grn, starts_on=DAY, ends_on=DAY))
    session.flush()
    assert availability(session, "GRN", DAY, "infusion", 60).slots == []


def test_unlicensed_site_offers_no_infusions_but_consults(session, chain):
    chain.grn.registrations[0].expires_on = DAY - dt.timedelta(days=1)
    session.flush()
    assert availability(session, "GRN", DAY, "infusion", 60).slots == []
    assert availability(session, "GRN", DAY, "consult", 60).slots != []


def test_eligible_staff_of_the_day_are_listed(session, chain):
    StaffFactory(role="coordinator", locations=[chain.grn])
    answer = availability(session, "GRN", DAY, "infusion", 60)
    assert [s.id for s in answer.eligible_staff] == [chain.dr_in.id]
    assert availability(session, "CHI", DAY, "infusion", 60).eligible_staff == []


@pytest.mark.parametrize("day", [dt.date(2026, 3, 8), dt.date(2026, 11, 1)])
def test_availability_on_dst_days_starts_at_local_opening(session, chain, day):
    got = starts(availability(session, "GRN", day, "infusion", 60), chain.infusion.id)
    assert got[0] == at(day, "08:00")
    assert got[0].astimezone(INDIANA).hour == 8
    assert got[-1] == at(day, "17:00")
    assert len(got) == 37


def test_slots_of_a_day_take_a_bounded_number_of_queries(session, book, chain):
    for _ in range(5):
        RoomFactory(location=chain.grn, kind="infusion", capacity=2)
    for hour in range(8, 17):
        book(starts_at=at(DAY, f"{hour:02d}:00"), ends_at=at(DAY, f"{hour:02d}:45"))
    session.expunge_all()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        answer = availability(session, "GRN", DAY, "infusion", 30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(answer.slots) > 100
    assert len(statements) <= 15


def test_unknown_location_is_not_found(session):
    with pytest.raises(NotFound):
        availability(session, "NOPE", DAY, "infusion", 60)


@pytest.mark.parametrize(
    ("kind", "duration"), [("surgery", 60), ("infusion", 0), ("infusion", 24 * 60)]
)
def test_bad_kind_or_duration_is_invalid(session, kind, duration):
    with pytest.raises(InvalidInput):
        availability(session, "GRN", DAY, kind, duration)
