"""What a write does to the bookings: the API's ``bookings_at_risk`` and the console's confirm step.

Core plumbing, so that master-data features (sites, rooms, staff) can ask without depending on
bookings: the bookings feature registers its judge at start-up (``create_app`` →
``init_bookings_at_risk``) and stores the count of the last commit in the session under
:data:`COUNT_KEY`.

- :func:`bookings_at_risk` — after a commit, how many of the bookings it touched are at risk.
- :func:`preview` — before a commit, which bookings the pending change would leave at risk.
- :class:`ImpactConfirmMixin` — a console model view that, when a save would put bookings at risk,
  refuses it once with the count and the list, and saves when the user ticks the confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, request, url_for
from markupsafe import Markup, escape
from wtforms import BooleanField
from wtforms.validators import ValidationError

from opsadmin.extensions import db

COUNT_KEY = "opsadmin_bookings_at_risk"
CONFIRM_FIELD = "confirm_impact"
SHOWN = 20  # bookings listed in the console's warning; the rest are counted


@dataclass(frozen=True)
class AtRisk:
    """One booking a pending change would leave at risk (no patient data)."""

    appointment_id: int
    external_id: str
    location: str
    starts: str  # the site's local time, e.g. "Tue 01 Dec 09:00 EST"
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


def bookings_at_risk(session: Any) -> int:
    """How many of the bookings the session's last commit touched are at risk now."""
    return int(session.info.get(COUNT_KEY, 0))


def with_bookings_at_risk(resource: Any) -> Any:
    """``resource`` (a just-committed row) carrying ``bookings_at_risk`` for its API answer."""
    resource.bookings_at_risk = bookings_at_risk(db.session)
    return resource


def describe(items: list[AtRisk]) -> str:
    """``BK-1 (GRN, Tue 01 Dec 09:00 EST: location_closed), …`` — at most SHOWN of them."""
    shown = ", ".join(
        f"{i.external_id} ({i.location}, {i.starts}: {', '.join(i.reasons)})" for i in items[:SHOWN]
    )
    more = len(items) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


class ImpactConfirmMixin:
    """Console views whose saves can put bookings at risk: warn with how many and which, then
    save only once the user ticks the confirmation (the write is allowed: a burst pipe is a fact).

    Put it before the view's base class."""

    form_extra_fields = {
        CONFIRM_FIELD: BooleanField(
            "Save even if bookings are put at risk",
            description="Needed only when the change would leave future bookings at risk; "
            "the console lists them first.",
        )
    }

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        super().on_model_change(form, model, is_created)  # the service's rules first
        items = [item for item in preview(db.session) if item.new]
        if items and not request.form.get(CONFIRM_FIELD):
            raise ValidationError(
                f"This change would put {len(items)} booking(s) at risk: {describe(items)}. "
                "Tick “Save even if bookings are put at risk” and save again to confirm."
            )

    def after_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        super().after_model_change(form, model, is_created)
        _flash_count(db.session)

    def after_model_delete(self, model: Any) -> None:
        super().after_model_delete(model)
        _flash_count(db.session)


def _flash_count(session: Any) -> None:
    count = bookings_at_risk(session)
    if count:
        link = url_for("admin_at_risk.index")
        flash(
            Markup('{} booking(s) touched by this change are at risk: <a href="{}">{}</a>.').format(
                count, link, escape("see Bookings at risk")
            ),
            "warning",
        )
