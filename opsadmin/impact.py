"""What a write does to the bookings: the API's ``bookings_at_risk`` and the console's confirm step.

Core plumbing, so that master-data features (sites, rooms, staff) can ask without depending on
bookings: the bookings feature registers its judge at start-up (``create_app`` →
``init_bookings_at_risk``) and stores the count of the last commit in the session under
:data:`COUNT_KEY`.

- :func:`bookings_at_risk` — after a commit, how many of the bookings it touched are at risk.
- :func:`preview` — before a commit, which bookings the pending change would leave at risk (the
  console's views whose saves can put bookings at risk list them and save only once the user has
  confirmed: :class:`opsadmin.console.MasterDataView`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opsadmin.extensions import db

COUNT_KEY = "opsadmin_bookings_at_risk"


@dataclass(frozen=True)
class AtRisk:
    """One booking a pending change would leave at risk, as the console lists it (no patient)."""

    id: int
    external_id: str
    starts_at: str  # ISO 8601, UTC
    site_time: str  # the site's local time, e.g. "Tue 01 Dec 2026 09:00–11:00 EST"
    location: str  # the site's code
    date: str  # the site's local date, for the day board
    room: str
    clinician: str
    kind: str
    status: str
    reasons: tuple[str, ...]
    new: bool  # not at risk for these reasons before the change


_previewer: Callable[[Any], list[AtRisk]] | None = None


def register_previewer(previewer: Callable[[Any], list[AtRisk]]) -> None:
    """The bookings feature's judge of a pending change (set once at start-up)."""
    global _previewer
    _previewer = previewer


def preview(session: Any) -> list[AtRisk]:
    """The bookings the session's pending change would leave at risk (flushes, stores nothing)."""
    return _previewer(session) if _previewer is not None else []


def put_at_risk(session: Any) -> list[AtRisk]:
    """The bookings the pending change would put at risk: those :func:`preview` finds at risk
    for a reason they were not stored with (the ones already at risk for it are not its doing)."""
    return [item for item in preview(session) if item.new]


def digest(items: list[AtRisk]) -> str:
    """What the user confirmed: the bookings, their times and reasons, so a changed list asks
    again."""
    seen = ",".join(f"{i.id}@{i.starts_at}:{'+'.join(i.reasons)}" for i in items)
    return hashlib.sha256(seen.encode()).hexdigest()[:24]


def bookings_at_risk(session: Any) -> int:
    """How many of the bookings the session's last commit touched are at risk now."""
    return int(session.info.get(COUNT_KEY, 0))


def with_bookings_at_risk(resource: Any) -> Any:
    """``resource`` (a just-committed row) carrying ``bookings_at_risk`` for its API answer."""
    resource.bookings_at_risk = bookings_at_risk(db.session)
    return resource
