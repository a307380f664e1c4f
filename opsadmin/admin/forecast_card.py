"""The dashboard's demand-forecast card: chair demand in the weeks ahead per site, with shortfalls.

Self-contained (its own function and template block, ``admin/_forecast_card.html``): the figures
are the forecast the API and the weekly e-mail give (``opsadmin.reports.forecast``).
"""

from __future__ import annotations

from typing import Any

from opsadmin.reports.forecast import forecast_for_region

CARD_WEEKS = 4


def _share(loc: dict[str, Any]) -> float | None:
    demand = loc["booked_minutes"] + loc["expected_minutes"]
    return demand / loc["available_minutes"] if loc["available_minutes"] else None


def forecast_card(session: Any, regions: list[Any]) -> dict[str, Any]:
    """{"weeks": [week, ...], "rows": [{"region", "location", "cells": [...]}]} over the regions."""
    weeks: list[str] = []
    rows = []
    for region in regions:
        forecast = forecast_for_region(session, region.code, CARD_WEEKS)
        weeks = [week["week"] for week in forecast["weeks"]]
        by_site: dict[str, list[dict[str, Any]]] = {}
        for week in forecast["weeks"]:
            for loc in week["locations"]:
                by_site.setdefault(loc["location"], []).append({**loc, "share": _share(loc)})
        rows += [
            {"region": region.code, "location": code, "cells": cells}
            for code, cells in by_site.items()
        ]
    return {"weeks": weeks, "rows": rows}
