"""JSON API of regions and locations: reads for the booking system, writes for onboarding.

Views parse, call :mod:`opsadmin.locations.service` (every rule lives there), commit and present.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from opsadmin.auth.apikeys import api_key_required
from opsadmin.extensions import db
from opsadmin.impact import with_bookings_at_risk
from opsadmin.locations import service
from opsadmin.locations.models import Location, Region
from opsadmin.locations.schemas import (
    LocationClosureSchema,
    LocationCreateSchema,
    LocationQuerySchema,
    LocationSchema,
    LocationUpdateSchema,
    RegionSchema,
    SiteRegistrationSchema,
    location_values,
)
from opsadmin.schemas import Blueprint, SelectPage

regions = Blueprint("regions", __name__, url_prefix="/api/v1/regions", description="Regions.")
locations = Blueprint(
    "locations", __name__, url_prefix="/api/v1/locations", description="Sites (locations)."
)
blueprints: list[Blueprint] = [regions, locations]


def location_query() -> sa.Select:
    """Locations with everything the schema shows, loaded in a fixed number of queries."""
    return sa.select(Location).options(
        selectinload(Location.region),
        selectinload(Location.opening_hours),
        selectinload(Location.closures),
        selectinload(Location.registrations),
    )


def load_location(code: str) -> Location:
    location = db.session.scalar(location_query().where(Location.code == code))
    if location is None:
        service.get_location(db.session, code)  # raises NotFound with the service's message
    return location


def created(body: Any, location: str | None = None) -> tuple[Any, int, dict[str, str]]:
    """201 with the created resource (and where to GET it)."""
    return body, 201, {"Location": location} if location else {}


@regions.route("")
class Regions(MethodView):
    @api_key_required("read")
    @regions.response(200, RegionSchema(many=True))
    @regions.paginate(SelectPage)
    def get(self) -> sa.Select:
        """The regions, by code."""
        return sa.select(Region).order_by(Region.code)

    @api_key_required("admin")
    @regions.arguments(RegionSchema)
    @regions.response(201, RegionSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a region (code, name, the leads' e-mail addresses)."""
        region = service.create_region(db.session, **data)
        db.session.commit()
        return created(region)


@locations.route("")
class Locations(MethodView):
    @api_key_required("read")
    @locations.arguments(LocationQuerySchema, location="query")
    @locations.response(200, LocationSchema(many=True))
    @locations.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> sa.Select:
        """The locations, by code; filter by region code and active."""
        query = location_query().order_by(Location.code)
        if "region" in args:
            query = query.join(Location.region).where(Region.code == args["region"])
        if "active" in args:
            query = query.where(Location.active == args["active"])
        return query

    @api_key_required("admin")
    @locations.arguments(LocationCreateSchema)
    @locations.response(201, LocationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a location with its address and weekly opening hours."""
        location = service.create_location(db.session, **location_values(data))
        db.session.commit()
        code = location.code
        return created(load_location(code), url_for("locations.Location", code=code))


@locations.route("/<code>", endpoint="Location")
class LocationView(MethodView):
    @api_key_required("read")
    @locations.response(200, LocationSchema)
    def get(self, code: str) -> Location:
        """A location with its hours, closures and registrations."""
        return load_location(code)

    @api_key_required("admin")
    @locations.arguments(LocationUpdateSchema)
    @locations.response(200, LocationSchema)
    def patch(self, data: dict[str, Any], code: str) -> Location:
        """Change the given fields; ``opening_hours`` replaces the whole week."""
        location = service.update_location(db.session, load_location(code), **location_values(data))
        db.session.commit()
        return with_bookings_at_risk(load_location(location.code))


@locations.route("/<code>/closures")
class LocationClosures(MethodView):
    @api_key_required("admin")
    @locations.arguments(LocationClosureSchema)
    @locations.response(201, LocationClosureSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Close the location on local dates starts_on…ends_on inclusive (a holiday)."""
        closure = service.add_location_closure(db.session, load_location(code), **data)
        db.session.commit()
        return created(with_bookings_at_risk(closure), url_for("locations.Location", code=code))


@locations.route("/<code>/registrations")
class LocationRegistrations(MethodView):
    @api_key_required("admin")
    @locations.arguments(SiteRegistrationSchema)
    @locations.response(201, SiteRegistrationSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Record a site DEA registration or state CSR."""
        registration = service.add_site_registration(db.session, load_location(code), **data)
        db.session.commit()
        registration = with_bookings_at_risk(registration)
        return created(registration, url_for("locations.Location", code=code))
