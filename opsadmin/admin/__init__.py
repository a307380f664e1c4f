"""The console (/admin/): the Admin per app, secured base views, dashboard."""

from __future__ import annotations

from flask import Flask


def init_admin(app: Flask) -> None:
    """Build this app's Admin and add every feature's views."""
