"""ISO weeks ("2026-W49"): parsing, their local days, neighbours."""

from __future__ import annotations

import datetime as dt
import re

from opsadmin.errors import InvalidInput

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(week: str) -> dt.date:
    """The Monday of ISO week ``week`` ("2026-W49"); InvalidInput when it is not one."""
    match = _WEEK.match(week or "")
    if match:
        try:
            return dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            pass
    raise InvalidInput(
        f"{week!r} is not an ISO week such as 2026-W49.",
        errors={"week": ["Expected an ISO week such as 2026-W49."]},
    )


def week_of(day: dt.date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def week_days(week: str) -> list[dt.date]:
    monday = parse_week(week)
    return [monday + dt.timedelta(days=n) for n in range(7)]


def shift_week(week: str, weeks: int) -> str:
    return week_of(parse_week(week) + dt.timedelta(weeks=weeks))


def monday_after(week: str) -> dt.date:
    """The day the week's reports are normally sent: the Monday after it."""
    return parse_week(week) + dt.timedelta(days=7)
