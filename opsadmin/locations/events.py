"""What a change of a site means to the event feed: ``location.updated`` (data: its code).

The location itself, its opening hours, closures and controlled-substance registrations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from opsadmin.events.service import watch
from opsadmin.locations.models import Location, LocationClosure, OpeningHours, SiteRegistration


def describe_location_change(
    session: Session, row: Any, change: str
) -> Iterable[tuple[str, dict[str, Any]]]:
    location = row if isinstance(row, Location) else row.location
    if location is None and getattr(row, "location_id", None) is not None:
        location = session.get(Location, row.location_id)
    if location is None or (isinstance(row, Location) and change == "create"):
        return []  # a new site is not an update; its hours, closures … come with it
    return [("location.updated", {"code": location.code})]


def watch_changes() -> None:
    for model in (Location, OpeningHours, LocationClosure, SiteRegistration):
        watch(model, describe_location_change)
