"""Locations: opening intervals in local time (DST-correct), and master-data rules."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from opsadmin.errors import InvalidInput
from opsadmin.locations.models import Location

Interval = tuple[dt.datetime, dt.datetime]


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; InvalidInput for an unknown one (``Mars/Olympus``)."""
    if name not in _known_zones():
        raise InvalidInput(
            f"Unknown time zone {name!r}: use an IANA name such as America/Indiana/Indianapolis.",
            errors={"timezone": [f"Unknown time zone {name!r}."]},
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - guarded above
        raise InvalidInput(str(error), errors={"timezone": [str(error)]}) from error


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def local_date(location: Location, instant: dt.datetime) -> dt.date:
    """The location's calendar date at ``instant``."""
    return instant.astimezone(zone(location.timezone)).date()


def local_datetime(location: Location, day: dt.date, time: dt.time) -> dt.datetime:
    """``time`` on ``day`` at the location, as an aware UTC datetime (DST-correct)."""
    return dt.datetime.combine(day, time, tzinfo=zone(location.timezone)).astimezone(dt.UTC)


def is_closed_on(location: Location, day: dt.date) -> bool:
    return any(c.starts_on <= day <= c.ends_on for c in location.closures)


def open_intervals(location: Location, day: dt.date) -> list[Interval]:
    """The location's opening intervals on its local ``day``, in UTC, minus holiday closures.

    Local wall-clock hours are converted with the day's own offset, so on the days clocks change
    08:00–18:00 local is still 08:00–18:00 local (and 9 or 11 hours long in UTC only if it spans
    the change, which opening hours never do).
    """
    if is_closed_on(location, day):
        return []
    weekday = day.weekday()
    intervals = [
        (local_datetime(location, day, h.opens), local_datetime(location, day, h.closes))
        for h in location.opening_hours
        if h.weekday == weekday
    ]
    return sorted(intervals)


def is_open_between(location: Location, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    """True when [starts_at, ends_at) lies inside one opening interval of the location."""
    first = local_date(location, starts_at)
    last = local_date(location, ends_at - dt.timedelta(microseconds=1))
    if first != last:
        return False
    return any(
        start <= starts_at and ends_at <= end for start, end in open_intervals(location, first)
    )
