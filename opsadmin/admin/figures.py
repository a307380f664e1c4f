"""Dashboard figures that are, by construction, the number of rows of the list they open.

A figure names a console list and the values of that list's filters. Its count is the list's own
(scoped) count query with those filters applied, and its link is that list with those filters in
the URL: the same view, the same scoping, the same filter objects, so "received: 4" opens four
rows. The filters themselves call the feature services' conditions (the stalled rule, the funnel
stages, renewals due) that the follow-up digest uses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from werkzeug.routing import BuildError


@dataclass(frozen=True)
class Figure:
    """A count on the dashboard: the rows of list ``endpoint`` filtered by ``filters``
    (filter label → option value, in the list's own words)."""

    key: str
    endpoint: str
    filters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ShownFigure:
    key: str
    count: int | None
    link: str | None


def link(endpoint: str, **params: Any) -> str | None:
    """The URL of a console page, or None when that view is not part of the console."""
    try:
        return url_for(endpoint, **params)
    except BuildError:
        return None


def console_view(endpoint: str) -> Any:
    admin = current_app.extensions.get("opsadmin_admin")
    for view in getattr(admin, "_views", []):
        if view.endpoint == endpoint:
            return view
    return None


def list_filters(view: Any, filters: tuple[tuple[str, str], ...]) -> list[tuple[str, Any]] | None:
    """(URL key, filter) for each filter label of ``filters`` — the first operation of a label,
    e.g. "equals" — or None when the view lacks one of them."""
    keys: dict[str, tuple[str, Any]] = {}
    for key, (_index, flt) in (getattr(view, "_filter_args", None) or {}).items():
        keys.setdefault(str(flt.name), (key, flt))
    if not all(name in keys for name, _value in filters):
        return None
    return [keys[name] for name, _value in filters]


def filter_link(endpoint: str, filters: dict[str, str]) -> str | None:
    """The list of view ``endpoint`` filtered by its filters labelled as ``filters``' keys
    (label → value); the unfiltered list when the view lacks one of them."""
    view = console_view(endpoint)
    found = list_filters(view, tuple(filters.items())) if view is not None else None
    if found is None:
        return link(f"{endpoint}.index_view")
    params = {
        f"flt{position}_{key}": value
        for position, ((key, _flt), value) in enumerate(zip(found, filters.values(), strict=True))
    }
    return link(f"{endpoint}.index_view", **params)


def show(figure: Figure) -> ShownFigure:
    """The figure's count and link for the signed-in user (None for both when its list is not
    in the console or lacks one of the filters)."""
    view = console_view(figure.endpoint)
    found = list_filters(view, figure.filters) if view is not None else None
    if found is None or not view.is_accessible():
        return ShownFigure(figure.key, None, None)
    query = view.get_count_query()
    for (_key, flt), (_name, value) in zip(found, figure.filters, strict=True):
        query = flt.apply(query, flt.clean(value))
    return ShownFigure(
        figure.key, int(query.scalar() or 0), filter_link(figure.endpoint, dict(figure.filters))
    )
