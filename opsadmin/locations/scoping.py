"""The regions and locations the signed-in console user may choose (scoped to their regions)."""

from __future__ import annotations

from collections.abc import Iterable

from opsadmin.console import user_region_ids
from opsadmin.extensions import db
from opsadmin.locations.models import Location, Region


def scoped_regions() -> Iterable[Region]:
    """The regions the current user may choose in a form."""
    query = db.select(Region).order_by(Region.code)
    allowed = user_region_ids()
    if allowed is not None:
        query = query.where(Region.id.in_(allowed or {-1}))
    return db.session.scalars(query).all()


def scoped_locations() -> Iterable[Location]:
    """The locations the current user may choose in a form."""
    query = db.select(Location).order_by(Location.code)
    allowed = user_region_ids()
    if allowed is not None:
        query = query.where(Location.region_id.in_(allowed or {-1}))
    return db.session.scalars(query).all()


def region_of_location(location: Location | None) -> int | None:
    if location is None:
        return None
    return location.region.id if location.region is not None else location.region_id
