"""A hand-computable week at one Indiana site (2026-W44: DST ends on its Sunday, 1 November).

Hours Mon–Fri 08:00–18:00 and Sun 09:00–13:00 local; a holiday on Wednesday; room A has three
chairs, room B one chair and a two-hour maintenance closure on Tuesday. Figures in the tests are
worked out by hand from the comments below.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from opsadmin import models as m
from tests.factories import AppointmentFactory, LocationFactory, RegionFactory, RoomFactory

TZ = ZoneInfo("America/Indiana/Indianapolis")
WEEK = "2026-W44"
MONDAY = dt.date(2026, 10, 26)
HOURS = [(d, "08:00", "18:00") for d in range(5)] + [(6, "09:00", "13:00")]


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TZ).astimezone(dt.UTC)


def day(offset: int) -> dt.date:
    return MONDAY + dt.timedelta(days=offset)


@dataclass
class Site:
    region: m.Region
    location: m.Location
    room_a: m.Room
    room_b: m.Room


def appointment(room: m.Room, start: dt.datetime, end: dt.datetime, status: str = "completed"):
    return AppointmentFactory(room=room, starts_at=start, ends_at=end, status=status)


def build_site(code: str = "GRN", region_code: str = "IN") -> Site:
    region = RegionFactory(
        code=region_code, name="Indiana", lead_emails=["lead1@example.org", "lead2@example.org"]
    )
    location = LocationFactory(code=code, region=region, hours=HOURS, dea=dt.date(2030, 1, 1))
    location.closures.append(m.LocationClosure(starts_on=day(2), ends_on=day(2), reason="Holiday"))
    room_a = RoomFactory(location=location, name="A", capacity=3)
    room_b = RoomFactory(location=location, name="B", capacity=1)
    RoomFactory(location=location, name="Consult", kind="consult", capacity=1)
    RoomFactory(location=location, name="Old", capacity=2, active=False)
    room_b.closures.append(
        m.RoomClosure(starts_at=local(day(1), 10), ends_at=local(day(1), 12), reason="Pump service")
    )
    return Site(region, location, room_a, room_b)


def build_week() -> Site:
    site = build_site()
    a, b = site.room_a, site.room_b
    appointment(a, local(day(0), 9), local(day(0), 11))  # 120, completed
    appointment(a, local(day(0), 9), local(day(0), 11), "no_show")  # 120, chair held
    appointment(a, local(day(0), 10), local(day(0), 12), "cancelled")  # 0
    appointment(a, local(day(4), 17), local(day(4), 19))  # past closing: 60
    # Sunday after the clocks went back (EST, UTC−5): open 09:00–13:00 local = 14:00–18:00 UTC.
    appointment(a, local(day(6), 12), local(day(6), 14))  # 60 inside opening hours
    appointment(b, local(day(1), 11), local(day(1), 13), "booked")  # 11–12 closed: 60
    appointment(b, local(day(2), 9), local(day(2), 10), "booked")  # holiday: 0
    consult = site.location.rooms[1] if site.location.rooms[1].kind == "consult" else None
    if consult is not None:
        appointment(consult, local(day(0), 9), local(day(0), 10))  # not an infusion room
    appointment(a, local(day(-7), 8), local(day(-7), 10))  # previous week: 120
    return site
