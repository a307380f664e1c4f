"""ISO weeks ("2026-W49"): parsing, their local days, neighbours."""

from __future__ import annotations

import datetime as dt
import re

from opsadmin.errors import InvalidInput

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# Weeks a clinic's reports can be about: a bound, so neighbours and ranges of a week stay dates
# (9999-W52 + 1 week, or 0001-W01 − 1 week, would overflow).
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_week(week: str) -> dt.date:
    """The Monday of ISO week ``week`` ("2026-W49"); InvalidInput when it is not one."""
    match = _WEEK.match(week or "")
    if match and FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
        try:
            return dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            pass
    raise InvalidInput(
        f"{week!r} is not an ISO week such as 2026-W49.",
        errors={
            "week": [
                f"Expected an ISO week such as 2026-W49, between {FIRST_YEAR} and {LAST_YEAR}."
            ]
        },
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
