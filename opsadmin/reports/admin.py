"""Console views of the reports feature."""

from __future__ import annotations

from flask_admin import BaseView


def admin_views() -> list[BaseView]:
    """The views the console shows for this feature, in menu order."""
    return []
