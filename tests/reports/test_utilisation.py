"""Utilisation equals the hand-computed figures (DESIGN §5), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest

from opsadmin.errors import InvalidInput, NotFound
from opsadmin.reports.utilisation import (
    split_by_local_hour,
    utilisation_by_site,
    utilisation_for_location,
    utilisation_for_region,
)
from tests.reports.fixtures import TZ, WEEK, build_week, day, local

# Open chair-minutes: Mon, Tue, Thu, Fri 600 each + Sun 240 = 2640 per chair (Wednesday closed).
AVAILABLE_A = 2640 * 3
AVAILABLE_B = 2640 - 120  # Tuesday's maintenance, one chair
BOOKED_A = 120 + 120 + 60 + 60
BOOKED_B = 60


@pytest.fixture
def week(session):
    site = build_week()
    session.commit()
    return site


def test_room_figures_equal_hand_computed_values(session, week):
    figures = utilisation_for_location(session, WEEK, "GRN")
    rooms = {room["name"]: room for room in figures["locations"][0]["rooms"]}
    assert set(rooms) == {"A", "B"}  # active infusion rooms only
    assert rooms["A"]["available_minutes"] == AVAILABLE_A
    assert rooms["A"]["booked_minutes"] == BOOKED_A
    assert rooms["B"]["available_minutes"] == AVAILABLE_B
    assert rooms["B"]["booked_minutes"] == BOOKED_B
    assert rooms["A"]["utilisation"] == round(BOOKED_A / AVAILABLE_A, 4)


def test_location_figures_are_ratios_of_sums(session, week):
    figures = utilisation_for_region(session, WEEK, "IN")
    assert figures["available_minutes"] == AVAILABLE_A + AVAILABLE_B
    assert figures["booked_minutes"] == BOOKED_A + BOOKED_B
    assert figures["utilisation"] == round(420 / 10440, 4)


def test_no_shows_count_as_booked_and_their_rate_and_lost_minutes(session, week):
    figures = utilisation_for_region(session, WEEK, "IN")
    assert figures["completed"] == 3
    assert figures["no_show"] == 1
    assert figures["no_show_rate"] == 0.25
    assert figures["no_show_minutes"] == 120


def test_change_against_previous_week(session, week):
    figures = utilisation_for_region(session, WEEK, "IN")
    # W43: no closures, 5 × 600 + 240 = 3240 per chair, four chairs; one 120-minute infusion.
    assert figures["previous"]["available_minutes"] == 3240 * 4
    assert figures["previous"]["booked_minutes"] == 120
    expected = round(round(420 / 10440, 4) - round(120 / 12960, 4), 4)
    assert figures["change"]["utilisation"] == expected
    assert figures["change"]["booked_minutes"] == 300


def test_heatmap_is_occupancy_by_local_weekday_and_hour(session, week):
    heat = utilisation_for_region(session, WEEK, "IN")["heatmap"]
    # Monday 09:00–10:00: four chairs open (240 chair-minutes), two infusions held them 120.
    assert heat[0][9] == 0.5
    assert heat[2][9] is None  # Wednesday: holiday
    assert heat[6][12] == round(60 / 240, 4)  # Sunday (after the DST change) 12:00 local
    assert heat[6][13] is None  # closed at 13:00 local


def test_lapsed_dea_registration_flags_the_site_but_keeps_its_capacity(session, week):
    week.location.registrations[0].expires_on = day(3)
    session.commit()
    site = utilisation_for_region(session, WEEK, "IN")["locations"][0]
    assert site["dea_lapsed"] is True
    assert site["available_minutes"] == AVAILABLE_A + AVAILABLE_B


def test_valid_dea_registration_is_not_flagged(session, week):
    assert utilisation_by_site(session, WEEK)[0]["dea_lapsed"] is False


def test_unknown_region_and_bad_week_are_refused(session, week):
    with pytest.raises(NotFound):
        utilisation_for_region(session, WEEK, "XX")
    with pytest.raises(InvalidInput):
        utilisation_for_region(session, "2026-W60", "IN")


def test_hour_split_follows_local_clock_across_dst():
    start, end = local(day(6), 9), local(day(6), 13)
    cells = [cell for cell, _ in split_by_local_hour(start, end, TZ)]
    assert cells == [(6, 9), (6, 10), (6, 11), (6, 12)]
    assert start == dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC)
