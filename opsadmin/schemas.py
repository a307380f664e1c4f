"""Building blocks every feature's API schemas share (a leaf: features may import it).

- :class:`Schema`: the base schema; unknown fields are refused (``unknown=RAISE``).
- :class:`AwareDateTime`: refuses naive datetimes on input, answers UTC ISO 8601 with ``Z``.
- :class:`Blueprint`: a flask-smorest Blueprint whose ``paginate()`` defaults to the contract's
  ``page``/``page_size`` (default 25, at most 100, 422 beyond) and ``X-Pagination`` header.
- :class:`SelectPage`: the pager for a view that returns a SQLAlchemy ``select()``: one COUNT
  and one LIMIT/OFFSET query, whatever the page size.

A list view reads::

    @blp.route("")
    class Locations(MethodView):
        @api_key_required("read")
        @blp.arguments(LocationQuerySchema, location="query")
        @blp.response(200, LocationSchema(many=True))
        @blp.paginate(SelectPage)
        def get(self, args):
            return sa.select(Location).order_by(Location.code)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask_smorest
import marshmallow as ma
import sqlalchemy as sa
from flask import g, has_request_context

from opsadmin.extensions import db

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


class Schema(ma.Schema):
    """Base of every API schema: an unknown field is a 422, never silently dropped."""

    class Meta:
        unknown = ma.RAISE


class AwareDateTime(ma.fields.AwareDateTime):
    """An ISO 8601 datetime that must carry an offset; dumped in UTC as ``2026-12-01T14:00:00Z``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            # Normalised to UTC here, so an instant UTC cannot hold (year 9999 at -05:00) is a
            # 422 at the edge instead of an overflow in the database driver.
            return parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError) as error:
            raise ma.ValidationError("Out of range.") from error

    def _serialize(self, value: dt.datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            # Stored datetimes are always aware (UTCDateTime); a naive one is a programming error.
            raise ValueError("naive datetime cannot be serialised")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class MaskedNumber(ma.fields.String):
    """A credential or registration number: answered as ``****`` + its last 4 characters unless
    the request's API key has the ``admin`` scope (HR and credentialing systems); read as given."""

    MASK = "****"

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        text = super()._serialize(value, attr, obj, **kwargs)
        if text is None or not _masking():
            return text
        return self.MASK + text[-4:] if len(text) > 4 else self.MASK


def _masking() -> bool:
    # The authenticated key (opsadmin.auth.apikeys puts it on g); no key, no API answer to mask.
    if not has_request_context():
        return False
    key = g.get("api_key")
    return key is not None and "admin" not in key.scopes


class PaginationQuerySchema(ma.Schema):
    """``page`` (from 1) and ``page_size`` (1–100, default 25); documents the contract's paging.

    ``Blueprint.paginate()`` builds the equivalent schema itself; this one is for views that page
    by hand and for reading the contract in one place.
    """

    class Meta:
        unknown = ma.EXCLUDE  # parsed beside the view's own query schema

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with the contract's pagination defaults."""

    DEFAULT_PAGINATION_PARAMETERS = {
        "page": 1,
        "page_size": DEFAULT_PAGE_SIZE,
        "max_page_size": MAX_PAGE_SIZE,
    }


class SelectPage(flask_smorest.Page):
    """Pages a ``select()`` in the database: the view returns the statement, not the rows.

    Add eager loading (``selectinload``) to the statement so a page costs a bounded number of
    queries; the count ignores ordering and eager options.
    """

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        if params.first_item >= (params.item_count or 0):
            # Past the end: no query (and no OFFSET too large for the database's integers).
            return []
        statement = self.collection.limit(params.page_size).offset(params.first_item)
        return list(db.session.scalars(statement).unique())

    @property
    def item_count(self) -> int:
        counted = self.collection.order_by(None).subquery()
        return db.session.scalar(sa.select(sa.func.count()).select_from(counted)) or 0


def bookings_at_risk_field() -> ma.fields.Integer:
    """``bookings_at_risk`` in the answer of a write that can put bookings at risk."""
    return ma.fields.Integer(
        dump_only=True,
        metadata={
            "description": "In the answer of this write only: how many future bookings it "
            "touched are at risk now (see GET /api/v1/appointments?at_risk=true)."
        },
    )
