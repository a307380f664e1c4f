"""The JSON API (/api/v1): the smorest Api per app, problem+json errors, shared schemas."""

from __future__ import annotations

import importlib

from flask import Flask
from flask_smorest import Api

FEATURES = ("locations", "rooms", "staff", "bookings", "referrals", "reports")


def init_api(app: Flask) -> Api:
    """Build this app's Api (never a module-level one) and register every feature's blueprints."""
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = Api(app)
    for feature in FEATURES:
        module = importlib.import_module(f"opsadmin.{feature}.api")
        for blp in module.blueprints:
            api.register_blueprint(blp)
    app.extensions["opsadmin_api"] = api
    return api
