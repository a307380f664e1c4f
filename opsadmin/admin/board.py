"""The day board page (/admin/board/?location=CODE&date=YYYY-MM-DD): a site's day, chair by chair.

The board is computed by :func:`opsadmin.bookings.board.day_board`; this view parses the query,
scopes it to the user's regions (another region's site is simply not found) and presents it.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort, request
from flask_admin import expose

from opsadmin.bookings.board import day_board, find_location, site_today
from opsadmin.console import SecureView, user_region_ids
from opsadmin.errors import NotFound
from opsadmin.extensions import db
from opsadmin.locations.models import Location

STATUS_LABELS = {
    "booked": "Booked",
    "checked_in": "Checked in",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}
KIND_LABELS = {"infusion": "Infusion", "consult": "Consult", "follow_up": "Follow-up"}


def parse_day(text: str | None) -> dt.date | None:
    """``YYYY-MM-DD`` as a date; None when absent; 400 when it is not a date."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(400, description="date must be YYYY-MM-DD")


class BoardView(SecureView):
    """A lane per chair of each room over the site's opening hours; closures shaded."""

    extra_css = None

    @expose("/")
    def index(self):
        code = (request.args.get("location") or "").strip()
        day = parse_day(request.args.get("date"))
        region_ids = user_region_ids()
        if not code:
            return self.render("admin/board_choose.html", locations=self._locations(region_ids))
        try:
            if day is None:
                day = site_today(find_location(db.session, code, region_ids))
            board = day_board(db.session, code, day, region_ids, at_risk=None)
        except NotFound:
            abort(404)
        return self.render(
            "admin/board.html",
            board=board,
            status_labels=STATUS_LABELS,
            kind_labels=KIND_LABELS,
            statuses=STATUS_LABELS,
        )

    @staticmethod
    def _locations(region_ids: set[int] | None) -> list[Location]:
        query = sa.select(Location).where(Location.active).order_by(Location.code)
        if region_ids is not None:
            query = query.where(Location.region_id.in_(region_ids or {-1}))
        return list(db.session.scalars(query))


def admin_views() -> list:
    return [BoardView(name="Day board", category="Bookings", endpoint="admin_board", url="board")]
