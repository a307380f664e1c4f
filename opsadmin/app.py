"""The application factory: reads like a table of contents of init_* calls."""

from __future__ import annotations

from typing import Any

from flask import Flask

from opsadmin import config as config_module
from opsadmin.extensions import csrf, db, login_manager, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config_module.load_config(config))
    init_proxies(app)
    init_database(app)
    init_audit(app)
    init_events(app)
    init_bookings_at_risk(app)
    init_auth(app)
    init_api(app)
    init_admin(app)
    init_commands(app)
    return app


def init_proxies(app: Flask) -> None:
    """Behind OPSADMIN_TRUSTED_PROXIES reverse proxies, the client is the address they forward
    (X-Forwarded-For/-Proto), so per-IP login limits and the audit log see the real client.
    Without it those headers are ignored: anyone could send them."""
    hops = int(app.config.get("OPSADMIN_TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def init_database(app: Flask) -> None:
    import opsadmin.models  # noqa: F401  (every table registered before the first query)
    from opsadmin.db import install_sqlite_pragmas

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from pathlib import Path

        path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            install_sqlite_pragmas(db.engine)
        elif db.engine.dialect.name == "postgresql":
            _bound_database_round_trips(app)


def _bound_database_round_trips(app: Flask) -> None:
    from opsadmin import db_timeouts
    from opsadmin.config import statement_timeout

    db_timeouts.install(
        db.engine,
        statement_seconds=statement_timeout(app.config),
        connect_seconds=float(app.config["OPSADMIN_DB_CONNECT_TIMEOUT"]),
    )


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def init_audit(app: Flask) -> None:
    from opsadmin.audit.service import install_audit_hook
    from opsadmin.master_cache import install_version_hook

    install_audit_hook()
    install_version_hook()


def init_events(app: Flask) -> None:
    import importlib

    from opsadmin.events import webhooks
    from opsadmin.events.service import install_event_hook, on_deliveries_committed

    for feature in ("bookings", "referrals", "locations"):
        importlib.import_module(f"opsadmin.{feature}.events").watch_changes()
    install_event_hook()
    on_deliveries_committed(webhooks.deliveries_committed)


def init_bookings_at_risk(app: Flask) -> None:
    """Every commit judges the future bookings its changes touch (opsadmin.bookings.risk)."""
    from opsadmin.bookings.risk import install_risk_hook

    install_risk_hook()


def init_auth(app: Flask) -> None:
    from opsadmin.auth.console import init_console_auth

    csrf.init_app(app)
    login_manager.init_app(app)
    init_console_auth(app)


def init_api(app: Flask) -> None:
    from opsadmin.api import init_api as _init_api

    _init_api(app)


def init_admin(app: Flask) -> None:
    from opsadmin.admin import init_admin as _init_admin

    _init_admin(app)


def init_commands(app: Flask) -> None:
    from opsadmin.cli import register_commands

    register_commands(app)
