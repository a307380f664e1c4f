"""The dashboard's demand-forecast card: the forecast's figures per site and week, scoped."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from opsadmin.reports.forecast import first_week_after, forecast_for_region
from opsadmin.reports.weeks import parse_week
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    RegionFactory,
    RoomFactory,
    UserFactory,
)

TZ = ZoneInfo("America/Indiana/Indianapolis")


def test_card_shows_the_shortfall_of_the_users_sites_only(client, auth, session):
    indiana = RegionFactory(code="IN", name="Indiana")
    illinois = RegionFactory(code="IL", name="Illinois")
    site = LocationFactory(code="GRN", region=indiana, hours=[(0, "08:00", "12:00")])
    LocationFactory(code="CHI", region=illinois)
    room = RoomFactory(location=site, capacity=1)
    week = first_week_after(dt.date.today())
    monday = parse_week(week)
    start = dt.datetime.combine(monday, dt.time(8), TZ).astimezone(dt.UTC)
    AppointmentFactory(room=room, starts_at=start, ends_at=start + dt.timedelta(hours=4))
    lead = UserFactory(role="regional_lead", regions=[indiana])
    session.commit()
    expected = forecast_for_region(session, "IN", 4)["weeks"][0]["locations"][0]
    assert expected["shortfall"] and expected["booked_minutes"] == 240

    auth.login(lead)
    page = client.get("/admin/").text
    assert 'id="panel-forecast"' in page
    cell = page.split(f'id="forecast-GRN-{week}"')[1].split("</td>")[0]
    assert "100%" in cell and "shortfall" in cell
    assert 'id="forecast-CHI-' not in page
