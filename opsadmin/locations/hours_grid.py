"""The location form's opening hours as a weekly grid: a row per weekday (Monday first), each
with a few opening–closing intervals, instead of one inline card per interval.

The field only reads and writes the intervals; the rules (closes after opens, no two intervals of
a day overlapping) are the location service's :func:`check_opening_hours`, which the location
view runs on save like every other rule, and its messages land on this field.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy.orm import object_session
from wtforms.fields import Field
from wtforms.utils import unset_value

from opsadmin.locations.models import OpeningHours

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Intervals offered per day: two covers a lunch break, a third an evening session; a day that
# already has more gets one spare beyond them.
MIN_SLOTS = 3

Interval = tuple[int, dt.time | None, dt.time | None]


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text.strip())


class WeeklyHoursWidget:
    def __call__(self, field: WeeklyHoursField, **kwargs: Any) -> Markup:
        slots = field.slots()
        by_day: dict[int, list[Interval]] = {day: [] for day in range(7)}
        for interval in field.data or []:
            by_day.setdefault(interval[0], []).append(interval)
        head = "".join("<th>Opens</th><th>Closes</th>" for _ in range(slots))
        rows = [self._row(field.name, day, by_day[day], slots) for day in range(7)]
        return Markup(
            '<table class="table table-sm table-borderless mb-0 weekly-hours" id="{}">'
            "<thead><tr><th>Day</th>{}</tr></thead><tbody>{}</tbody></table>"
        ).format(field.id, Markup(head), Markup("").join(rows))

    @staticmethod
    def _row(name: str, day: int, intervals: list[Interval], slots: int) -> Markup:
        cells = []
        for slot in range(slots):
            opens, closes = intervals[slot][1:] if slot < len(intervals) else (None, None)
            for part, value in (("opens", opens), ("closes", closes)):
                cells.append(
                    Markup(
                        '<td><input type="time" class="form-control form-control-sm" '
                        'name="{0}" id="{0}" value="{1}" aria-label="{2} {3} {4}"></td>'
                    ).format(
                        f"{name}-{day}-{slot}-{part}",
                        value.strftime("%H:%M") if value else "",
                        WEEKDAYS[day],
                        part,
                        slot + 1,
                    )
                )
        return Markup('<tr><th scope="row">{}</th>{}</tr>').format(
            escape(WEEKDAYS[day]), Markup("").join(cells)
        )


class WeeklyHoursField(Field):
    """``data`` is a list of (weekday, opens, closes); a half-filled interval keeps its None so
    the service names it."""

    widget = WeeklyHoursWidget()

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.process_errors = []
        pattern = re.compile(rf"^{re.escape(self.name)}-([0-6])-(\d{{1,2}})-(opens|closes)$")
        if formdata is not None and any(pattern.match(key) for key in formdata):
            self.data = self._from_form(formdata, pattern)
            return
        if data is unset_value:
            data = self.default() if callable(self.default) else self.default
        self.data = [(h.weekday, h.opens, h.closes) for h in data or []]

    def _from_form(self, formdata: Any, pattern: re.Pattern[str]) -> list[Interval]:
        found: dict[tuple[int, int], dict[str, dt.time | None]] = {}
        for key in formdata:
            match = pattern.match(key)
            text = (formdata.get(key) or "").strip()
            if not match or not text:
                continue
            day, slot, part = int(match[1]), int(match[2]), match[3]
            try:
                found.setdefault((day, slot), {})[part] = _time(text)
            except ValueError:
                self.process_errors.append(f"{WEEKDAYS[day]}: {text!r} is not a time (HH:MM).")
        return [
            (day, times.get("opens"), times.get("closes"))
            for (day, _slot), times in sorted(found.items())
        ]

    def slots(self) -> int:
        per_day: dict[int, int] = {}
        for interval in self.data or []:
            per_day[interval[0]] = per_day.get(interval[0], 0) + 1
        most = max(per_day.values(), default=0)
        return max(MIN_SLOTS, most + 1 if most >= MIN_SLOTS else MIN_SLOTS)

    def populate_obj(self, obj: Any, name: str) -> None:
        """Keep the intervals that did not change (no audit noise), drop the others, add the new."""
        wanted = list(self.data or [])
        kept = []
        session = object_session(obj)
        for interval in list(obj.opening_hours):
            key = (interval.weekday, interval.opens, interval.closes)
            if key in wanted:
                wanted.remove(key)
                kept.append(interval)
            elif session is not None and interval.id is not None:
                # An explicit delete, not a delete-orphan at flush: the audit hook sees it.
                session.delete(interval)
        added = [OpeningHours(weekday=d, opens=o, closes=c) for d, o, c in wanted]
        obj.opening_hours = kept + added
