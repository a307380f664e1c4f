"""Issue 14: the location form edits opening hours as a weekly grid (a row per weekday, several
intervals a day) and the location service's rules decide what is valid."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from opsadmin.extensions import db
from opsadmin.locations.models import Location
from tests.console_forms import events, page_text, sign_in
from tests.factories import LocationFactory, RegionFactory
from tests.locations.test_admin_locations import location_form


@pytest.fixture
def indiana(app):
    region = RegionFactory(code="IN", name="Indiana")
    db.session.commit()
    return region


def grid(**days: list[tuple[str, str]]) -> dict[str, str]:
    """Form fields of the grid: ``mon=[("08:00", "12:00"), ...]`` → opening_hours-0-0-opens …"""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    fields = {}
    for day, intervals in days.items():
        for slot, (opens, closes) in enumerate(intervals):
            fields[f"opening_hours-{names.index(day)}-{slot}-opens"] = opens
            fields[f"opening_hours-{names.index(day)}-{slot}-closes"] = closes
    return fields


def hours_of(location_id: int) -> list[str]:
    db.session.expire_all()
    return [str(h) for h in db.session.get(Location, location_id).opening_hours]


def without_hours(form: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in form.items() if not k.startswith("opening_hours-")}


def test_edit_page_shows_a_row_per_weekday_with_the_hours_filled_in(client, auth):
    site = LocationFactory(
        hours=[(0, "08:00", "12:00"), (0, "13:00", "18:00"), (5, "09:00", "13:00")]
    )
    db.session.commit()
    sign_in(auth)
    page = page_text(client.get(f"/admin/locations/edit/?id={site.id}"))
    table = re.search(r'<table class="[^"]*weekly-hours".*?</table>', page, re.S).group(0)
    days = re.findall(r'<th scope="row">(\w+)</th>', table)
    assert days == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert 'name="opening_hours-0-0-opens" id="opening_hours-0-0-opens" value="08:00"' in table
    assert 'name="opening_hours-0-1-closes" id="opening_hours-0-1-closes" value="18:00"' in table
    assert 'name="opening_hours-5-0-opens" id="opening_hours-5-0-opens" value="09:00"' in table
    assert 'name="opening_hours-6-2-opens"' in table  # a third, empty interval on every day
    assert "opening_hours-button" not in page  # no more one card per interval


def test_grid_saves_several_intervals_a_day(client, auth, indiana):
    sign_in(auth)
    form = without_hours(location_form(indiana)) | grid(
        mon=[("08:00", "12:00"), ("13:00", "18:00")], sat=[("09:00", "13:00")]
    )
    response = client.post("/admin/locations/new/", data=form)
    assert response.status_code == 302, page_text(response)[-3000:]
    location_id = int(re.search(r"id=(\d+)", response.headers["Location"]).group(1))
    assert hours_of(location_id) == ["Mon 08:00–12:00", "Mon 13:00–18:00", "Sat 09:00–13:00"]


def test_overlapping_intervals_are_refused_by_the_service_rule(client, auth, indiana):
    sign_in(auth)
    form = without_hours(location_form(indiana)) | grid(
        mon=[("08:00", "12:00"), ("11:00", "18:00")]
    )
    page = page_text(client.post("/admin/locations/new/", data=form))
    assert "Mon 08:00–12:00 overlaps Mon 11:00–18:00" in page
    assert db.session.query(Location).count() == 0
    assert 'value="11:00"' in page  # what was typed is shown again


def test_half_filled_or_unreadable_interval_is_refused(client, auth, indiana):
    sign_in(auth)
    half = without_hours(location_form(indiana)) | {"opening_hours-1-0-opens": "08:00"}
    assert "needs an opening and a closing time" in page_text(
        client.post("/admin/locations/new/", data=half)
    )
    bad = without_hours(location_form(indiana)) | grid(tue=[("8 o'clock", "18:00")])
    assert "is not a time (HH:MM)" in page_text(client.post("/admin/locations/new/", data=bad))
    assert db.session.query(Location).count() == 0


def test_unchanged_hours_are_kept_and_a_changed_interval_is_replaced(client, auth, indiana):
    site = LocationFactory(region=indiana, hours=[(0, "08:00", "18:00"), (2, "08:00", "18:00")])
    db.session.commit()
    kept_id = site.opening_hours[0].id
    sign_in(auth)
    form = without_hours(location_form(indiana, code=site.code)) | grid(
        mon=[("08:00", "18:00")], wed=[("08:00", "16:00")]
    )
    form = {k: v for k, v in form.items() if not k.startswith("rooms-")}
    response = client.post(f"/admin/locations/edit/?id={site.id}", data=form)
    assert response.status_code == 302, page_text(response)[-3000:]
    assert hours_of(site.id) == ["Mon 08:00–18:00", "Wed 08:00–16:00"]
    db.session.expire_all()
    assert db.session.get(Location, site.id).opening_hours[0].id == kept_id
    changed = {e.action for e in events("OpeningHours") if e.at.date() == dt.date.today()}
    assert changed >= {"delete", "create"}
