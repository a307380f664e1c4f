"""Console views of locations (opening hours and rooms inline), rooms and room closures.

The Locations view lives here rather than in the locations feature because it edits rooms inline
and must apply the room rules, and rooms build on locations (never the reverse).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_admin import BaseView
from flask_admin.form import DateTimeField

from opsadmin.console import SITES, MasterDataView, board_link
from opsadmin.extensions import db
from opsadmin.impact import ImpactConfirmMixin
from opsadmin.locations import service as location_service
from opsadmin.locations.hours_grid import WeeklyHoursField
from opsadmin.locations.models import Location
from opsadmin.locations.scoping import region_of_location, scoped_locations, scoped_regions
from opsadmin.rooms import service
from opsadmin.rooms.models import Room, RoomClosure
from opsadmin.validation import refuse_delete_with_history


def location_board(view: Any, context: Any, model: Location, name: str) -> Any:
    return board_link(model.code)


def room_board(view: Any, context: Any, model: Room, name: str) -> Any:
    return board_link(model.location.code)


class LocationView(ImpactConfirmMixin, MasterDataView):
    region_column = Location.region_id
    column_list = (
        "code",
        "name",
        "region",
        "city",
        "state",
        "timezone",
        "phone",
        "active",
        "board",
    )
    column_details_list = (*location_service.LOCATION_FIELDS, "board")
    column_formatters = {"board": location_board}
    column_formatters_detail = {"board": location_board}
    column_searchable_list = ("code", "name", "city")
    column_filters = ("active", "state", "region.code")
    column_default_sort = "code"
    column_labels = {
        "region.code": "Region code",
        "timezone": "Time zone",
        "address_line1": "Address line 1",
    }
    # The fields the service validates, plus the rooms edited inline.
    form_columns = (*location_service.LOCATION_FIELDS, "rooms")
    form_args = {
        "region": {"query_factory": scoped_regions},
        "timezone": {"description": "IANA name, e.g. America/Indiana/Indianapolis"},
        "state": {"description": "US state code, e.g. IN"},
    }
    # Opening hours as a weekly grid (the service checks them); rooms edited inline.
    form_extra_fields = {
        "opening_hours": WeeklyHoursField(
            "Opening hours",
            description="Local times. A day with no interval is closed; a break is two intervals.",
        )
    }
    inline_models = (
        (
            Room,
            {
                "form_columns": ("id", "name", "kind", "capacity", "active"),
            },
        ),
    )

    def validate_model(self, model: Location) -> None:
        location_service.validate_location(db.session, model)
        for room in model.rooms:
            service.validate_room(db.session, room)

    def check_delete(self, model: Location) -> None:
        refuse_delete_with_history(db.session, model, "location")

    def regions_of(self, model: Location) -> set[int | None]:
        return {region_of_location(model)}


class RoomView(ImpactConfirmMixin, MasterDataView):
    region_column = Location.region_id
    scope_joins = (Room.location,)
    column_list = ("location", "name", "kind", "capacity", "active", "board")
    column_details_list = ("location", "name", "kind", "capacity", "active", "board")
    column_formatters = {"board": room_board}
    column_formatters_detail = {"board": room_board}
    column_searchable_list = ("name", "location.code", "location.name")
    column_filters = ("kind", "active", "capacity", "location.code")
    column_default_sort = "name"
    column_labels = {"location.code": "Location code", "location.name": "Location"}
    form_columns = ("location", "name", "kind", "capacity", "active")
    form_args = {"location": {"query_factory": scoped_locations}}

    def validate_model(self, model: Room) -> None:
        service.validate_room(db.session, model)

    def check_delete(self, model: Room) -> None:
        refuse_delete_with_history(db.session, model, "room")

    def regions_of(self, model: Room) -> set[int | None]:
        return {region_of_location(model.location)}


def scoped_rooms() -> Any:
    locations = {location.id for location in scoped_locations()}
    query = db.select(Room).where(Room.location_id.in_(locations or {-1})).order_by(Room.name)
    return db.session.scalars(query).all()


class RoomClosureView(ImpactConfirmMixin, MasterDataView):
    region_column = Location.region_id
    scope_joins = (RoomClosure.room, Room.location)
    column_list = ("room", "starts_at", "ends_at", "reason")
    column_searchable_list = ("reason", "room.name")
    column_filters = ("room.name", "room.location.code")
    column_default_sort = ("starts_at", True)
    column_labels = {"room.name": "Room", "starts_at": "Starts (UTC)", "ends_at": "Ends (UTC)"}
    form_columns = ("room", "starts_at", "ends_at", "reason")
    # UTCDateTime is a TypeDecorator the form scaffolding does not know: say which field to use.
    form_overrides = {"starts_at": DateTimeField, "ends_at": DateTimeField}
    form_args = {
        "room": {"query_factory": scoped_rooms},
        "starts_at": {"description": "UTC"},
        "ends_at": {"description": "UTC"},
    }

    def on_model_change(self, form: Any, model: RoomClosure, is_created: bool) -> None:
        # The form's date-time pickers are UTC wall-clock times (labelled so): make them aware.
        for field in ("starts_at", "ends_at"):
            value = getattr(model, field)
            if value is not None and value.tzinfo is None:
                setattr(model, field, value.replace(tzinfo=dt.UTC))
        super().on_model_change(form, model, is_created)

    def validate_model(self, model: RoomClosure) -> None:
        service.validate_room_closure(db.session, model)

    def regions_of(self, model: RoomClosure) -> set[int | None]:
        return {region_of_location(model.room.location if model.room else None)}


def admin_views() -> list[BaseView]:
    """Locations (with hours and rooms inline), rooms, closures and site registrations."""
    location_views: list[BaseView] = [
        LocationView(
            Location,
            db,
            name="Locations",
            category=SITES,
            endpoint="admin_locations",
            url="locations",
        ),
        RoomView(Room, db, name="Rooms", category=SITES, endpoint="admin_rooms", url="rooms"),
        RoomClosureView(
            RoomClosure,
            db,
            name="Room closures",
            category=SITES,
            endpoint="admin_room_closures",
            url="room_closures",
        ),
    ]
    return location_views
