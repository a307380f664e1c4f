"""The day board (/admin/board/): lanes per chair, blocks per appointment, closures shaded, DST days
right, scoped like every console page, and a constant number of statements."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from opsadmin import models as m
from opsadmin.bookings.board import day_board
from opsadmin.errors import NotFound
from opsadmin.extensions import db
from opsadmin.locations.service import local_datetime
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    RegionFactory,
    RoomFactory,
    UserFactory,
    licensed_clinician,
)
from tests.test_query_counts import MAX_STATEMENTS_PER_PAGE, counted, page_statements

DAY = dt.date(2026, 3, 10)  # a Tuesday


def queries(statements: list[str]) -> list[str]:
    """The page's own statements: without the sign-in check's, nor the BEGINs that open a
    transaction (one more when the sign-in check has just committed its session refresh)."""
    return [s for s in page_statements(statements) if s.strip().upper() != "BEGIN"]


def book(room, staff, day, start, minutes=60, status="booked", external_id=None):
    starts = local_datetime(room.location, day, dt.time.fromisoformat(start))
    extra = {"external_id": external_id} if external_id else {}
    return AppointmentFactory(
        room=room,
        staff=staff,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=minutes),
        status=status,
        **extra,
    )


@pytest.fixture
def site(session):
    location = LocationFactory(code="GRN", name="Greencastle")
    room = RoomFactory(location=location, name="Infusion A", capacity=2)
    staff = licensed_clinician([location], name="Dr Ada Lane")
    session.flush()
    return location, room, staff


def lanes_of(board, room_name):
    room = next(r for r in board.rooms if r.name == room_name)
    return [(lane.kind, [b.external_id for b in lane.blocks]) for lane in room.lanes]


def test_overlapping_bookings_take_separate_chairs_and_a_freed_chair_is_reused(session, site):
    location, room, staff = site
    book(room, staff, DAY, "09:00", 120, external_id="A")
    book(room, staff, DAY, "10:00", 60, external_id="B")
    book(room, staff, DAY, "11:00", 60, external_id="C")  # A ends at 11:00: chair 1 is free
    board = day_board(session, "GRN", DAY)
    assert lanes_of(board, "Infusion A") == [("chair", ["A", "C"]), ("chair", ["B"])]


def test_more_overlaps_than_chairs_go_to_an_over_capacity_lane_and_cancelled_hold_no_chair(
    session, site
):
    location, room, staff = site
    for external_id in ("A", "B", "C"):
        book(room, staff, DAY, "09:00", external_id=external_id)
    book(room, staff, DAY, "09:00", status="cancelled", external_id="X")
    board = day_board(session, "GRN", DAY)
    assert lanes_of(board, "Infusion A") == [
        ("chair", ["A"]),
        ("chair", ["B"]),
        ("over_capacity", ["C"]),
        ("cancelled", ["X"]),
    ]


def test_board_spans_the_opening_hours_in_site_time_and_places_blocks_on_it(session, site):
    location, room, staff = site
    book(room, staff, DAY, "13:00", 60, external_id="MID")
    board = day_board(session, "GRN", DAY)
    assert board.ticks[0][1] == "08:00" and board.ticks[-1][1] == "18:00"
    block = board.blocks[0]
    assert block.local_label == "13:00–14:00"
    assert block.left == pytest.approx(50.0) and block.width == pytest.approx(10.0)


def test_dst_day_is_drawn_at_its_true_length(session):
    # 2026-11-01: Chicago falls back at 02:00, a 25-hour day; open around the clock.
    location = LocationFactory(
        code="CHI", state="IL", timezone="America/Chicago", hours=[(6, "00:00", "23:59")]
    )
    room = RoomFactory(location=location, capacity=1)
    staff = licensed_clinician([location], states=("IL",))
    book(room, staff, dt.date(2026, 11, 1), "12:00", 60, external_id="NOON")
    board = day_board(session, "CHI", dt.date(2026, 11, 1))
    labels = [label for _, label in board.ticks]
    assert len(labels) == 26 and labels.count("01:00") == 2  # 00:00 … 24:00 over 25 hours
    assert board.blocks[0].local_label == "12:00–13:00"
    assert board.blocks[0].left == pytest.approx(13 / 25 * 100, abs=0.01)


def test_location_and_room_closures_and_hours_are_shaded(session, site):
    location, room, staff = site
    location.closures.append(m.LocationClosure(starts_on=DAY, ends_on=DAY, reason="Burst pipe"))
    room.closures.append(
        m.RoomClosure(
            starts_at=local_datetime(location, DAY, dt.time(14, 0)),
            ends_at=local_datetime(location, DAY, dt.time(16, 0)),
            reason="Pump calibration",
        )
    )
    session.flush()
    board = day_board(session, "GRN", DAY)
    assert board.closures == ["Burst pipe"]
    assert [s.kind for s in board.shades] == ["location_closure"]
    shade = board.rooms[0].shades[0]
    assert (shade.kind, shade.left, shade.width) == ("room_closure", 60.0, 20.0)
    sunday = day_board(session, "GRN", dt.date(2026, 3, 15))  # the factory site shuts on Sundays
    assert [s.label for s in sunday.shades] == ["No opening hours this day"]


def test_another_regions_location_is_not_found_for_a_scoped_user(session, site):
    other = LocationFactory(code="CHI", region=RegionFactory(code="IL"))
    session.flush()
    with pytest.raises(NotFound):
        day_board(session, "CHI", DAY, region_ids={site[0].region_id})
    assert day_board(session, "CHI", DAY, region_ids={other.region_id}).location.code == "CHI"


# -- the page ----------------------------------------------------------------------------------


def test_board_page_shows_blocks_closures_and_day_navigation(client, auth, session, site):
    location, room, staff = site
    book(room, staff, DAY, "09:00", external_id="BK-NINE")
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)
    page = client.get(f"/admin/board/?location=GRN&date={DAY}")
    assert page.status_code == 200
    assert 'data-external-id="BK-NINE"' in page.text and "Dr Ada Lane" in page.text
    assert "date=2026-03-09" in page.text and "date=2026-03-11" in page.text
    assert re.search(r'data-lane="Chair 2"', page.text)


def test_regional_lead_gets_404_for_a_hand_typed_other_region_site(client, auth, session, site):
    LocationFactory(code="CHI", region=RegionFactory(code="IL"))
    lead = UserFactory(role="regional_lead", regions=[site[0].region])
    db.session.commit()
    auth.login(lead)
    assert client.get(f"/admin/board/?location=GRN&date={DAY}").status_code == 200
    assert client.get(f"/admin/board/?location=CHI&date={DAY}").status_code == 404
    choices = client.get("/admin/board/").text
    assert "location=GRN" in choices and "location=CHI" not in choices


def test_bad_date_is_a_400_not_a_500(client, auth, session, site):
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    assert client.get("/admin/board/?location=GRN&date=2026-13-45").status_code == 400


def test_board_page_issues_the_same_few_statements_for_few_or_many_appointments(
    client, auth, session, site
):
    location, room, staff = site
    other_room = RoomFactory(location=location, name="Infusion B", capacity=4)
    book(room, staff, DAY, "09:00")
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)
    url = f"/admin/board/?location=GRN&date={DAY}"
    client.get(url)  # the first page after signing in also refreshes the session
    with counted() as few:
        assert client.get(url).status_code == 200
    for n in range(60):
        book((room, other_room)[n % 2], staff, DAY, f"{8 + n % 9:02d}:{n % 4 * 15:02d}")
    db.session.commit()
    with counted() as many:
        page = client.get(url)
    assert page.text.count("data-external-id=") == 61
    few, many = queries(few), queries(many)
    assert len(few) == len(many) <= MAX_STATEMENTS_PER_PAGE, (len(few), len(many))


def test_board_is_linked_from_dashboard_location_room_and_appointment_pages(
    client, auth, session, site
):
    location, room, staff = site
    appointment = book(room, staff, DAY, "09:00")
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    board_today = "/admin/board/?location=GRN"
    pages = {
        "/admin/": board_today,
        "/admin/locations/": board_today,
        f"/admin/locations/details/?id={location.id}": board_today,
        "/admin/rooms/": board_today,
        f"/admin/rooms/details/?id={room.id}": board_today,
        f"/admin/appointments/details/?id={appointment.id}": f"{board_today}&amp;date={DAY}",
    }
    for page, href in pages.items():
        text = client.get(page).text
        assert f'href="{href}"' in text, page
    assert client.get(f"/admin/board/?location=GRN&date={DAY}").status_code == 200
