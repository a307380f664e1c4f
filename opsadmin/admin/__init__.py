"""The console (/admin/): the Admin per app, secured base views, dashboard, security headers."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, send_from_directory
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from opsadmin import audit, auth, bookings, events, locations, referrals, reports, rooms, staff  # noqa: F401
from opsadmin.admin.dashboard import DashboardView
from opsadmin.admin.impact import install_impact_checks
from opsadmin.admin.security import csp_nonce, init_security
from opsadmin.labels import badge, label

# Menu order: master data first, then the flow of work, then reports and administration. Each
# entry names a feature's admin module and the function that lists its views.
VIEWS = (
    ("locations", "admin_views"),
    ("rooms", "admin_views"),  # locations with rooms inline, rooms, room closures
    ("locations", "closure_and_registration_views"),
    ("staff", "admin_views"),
    ("bookings", "admin_views"),
    ("referrals", "admin_views"),
    ("reports", "admin_views"),
    ("events", "admin_views"),  # webhooks: endpoints, deliveries, attempts
    ("auth", "admin_views"),
    ("audit", "admin_views"),
)
CONSOLE_PAGES = ("board", "compliance")


def init_admin(app: Flask) -> Admin:
    """Build this app's Admin (never a module-level one) and add every feature's views."""
    import importlib

    init_security(app)
    # Stored values in words, statuses as badges, on every console template (one table).
    app.jinja_env.filters.update(label=label, badge=badge)
    admin = Admin(
        app,
        name="opsadmin",
        url="/admin",
        index_view=DashboardView(url="/admin", name="Dashboard"),
        theme=Bootstrap4Theme(
            swatch="default", fluid=True, base_template="admin/console_base.html"
        ),
        csp_nonce_generator=csp_nonce,
    )
    for feature, views in VIEWS:
        module = importlib.import_module(f"opsadmin.{feature}.admin")
        for view in getattr(module, views)():
            admin.add_view(view)
    # Pages that run the operation across features: the day board and staff compliance.
    for page in CONSOLE_PAGES:
        for view in importlib.import_module(f"opsadmin.admin.{page}").admin_views():
            admin.add_view(view)
    install_impact_checks(admin)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.extensions["opsadmin_admin"] = admin
    return admin


def favicon() -> Response:
    """Browsers ask for /favicon.ico on pages that name no icon (JSON, error pages)."""
    return send_from_directory(
        Path(__file__).resolve().parent.parent / "static" / "console",
        "favicon.svg",
        mimetype="image/svg+xml",
        max_age=86400,
    )
