"""JSON API of the reports feature: a week's utilisation of a location or a region."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from opsadmin.auth.apikeys import api_key_required
from opsadmin.extensions import db
from opsadmin.reports.forecast import forecast_for_region
from opsadmin.reports.schemas import (
    ForecastQuerySchema,
    ForecastSchema,
    UtilisationQuerySchema,
    UtilisationSchema,
)
from opsadmin.reports.utilisation import utilisation_for_location, utilisation_for_region
from opsadmin.reports.weeks import parse_week
from opsadmin.schemas import Blueprint

utilisation = Blueprint(
    "utilisation",
    __name__,
    url_prefix="/api/v1/utilisation",
    description="Chair utilisation by ISO week.",
)
forecast = Blueprint(
    "forecast",
    __name__,
    url_prefix="/api/v1/forecast",
    description="Chair demand in the weeks ahead per treatment location.",
)
blueprints: list[Blueprint] = [utilisation, forecast]


@utilisation.route("")
class Utilisation(MethodView):
    @api_key_required("read")
    @utilisation.arguments(UtilisationQuerySchema, location="query")
    @utilisation.response(200, UtilisationSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Available and booked chair-minutes of a week, for one location or a whole region."""
        parse_week(args["week"])
        if "location" in args:
            figures = utilisation_for_location(db.session, args["week"], args["location"])
        else:
            figures = utilisation_for_region(db.session, args["week"], args["region"])
        rooms = [room for loc in figures["locations"] for room in loc["rooms"]]
        return {**figures, "rooms": rooms}


@forecast.route("")
class Forecast(MethodView):
    @api_key_required("read")
    @forecast.arguments(ForecastQuerySchema, location="query")
    @forecast.response(200, ForecastSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Booked, expected and available chair-minutes per site for the next weeks, from next
        week, and whether demand exceeds 90 % of what is available (a shortfall)."""
        return forecast_for_region(db.session, args["region"], args["weeks"])
