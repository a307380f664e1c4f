"""The JSON API (/api/v1): the smorest Api per app, problem+json errors, the docs page, /healthz.

Features expose ``blueprints`` in ``<feature>/api.py``; they build them from
:class:`opsadmin.schemas.Blueprint`, protect views with :func:`opsadmin.auth.apikeys.api_key_required`
and raise :mod:`opsadmin.errors` exceptions, which :mod:`opsadmin.api.errors` turns into problem+json.
"""

from __future__ import annotations

import importlib

from flask import Flask, abort, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from werkzeug.routing import IntegerConverter

from opsadmin.api.errors import PROBLEM_JSON, ProblemSchema, init_error_handlers, is_api_request
from opsadmin.api.jsonbody import check_json_body
from opsadmin.extensions import csrf

FEATURES = ("locations", "rooms", "staff", "bookings", "referrals", "reports", "events")
BODY_METHODS = ("POST", "PUT", "PATCH")
MAX_ID = 2**31 - 1  # PostgreSQL integer; SQLite and psycopg overflow on larger path ids


class IdConverter(IntegerConverter):
    """``<int:…>`` with an upper bound: an id no row can have is a 404, not an overflow (500)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _id_parameter_schema(converter: IdConverter) -> dict:
    return {"type": "integer", "minimum": 0, "maximum": converter.max}


PAGINATION_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": "integer"}
        for name in (
            "total", "total_pages", "first_page", "last_page", "page", "previous_page", "next_page"
        )
    },
    "required": ["total", "total_pages", "page"],
}  # fmt: skip


class Api(SmorestApi):
    """flask-smorest's Api documenting every error as an RFC 9457 problem document."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        import http

        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            content_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                content_type = PROBLEM_JSON
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error (problem+json)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_pagination_header(self) -> None:
        # The header's value is JSON text: a string whose content is a Pagination document
        # (smorest says "object", which no header value can be).
        self.spec.components.schema("Pagination", PAGINATION_SCHEMA)
        header = {
            "description": "Pagination metadata, a JSON object: total, total_pages, first_page,"
            " last_page, page, previous_page, next_page.",
            "schema": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/Pagination"},
            },
            "example": '{"total": 30, "total_pages": 2, "first_page": 1, "last_page": 2,'
            ' "page": 1, "next_page": 2}',
        }
        self.spec.components.header("PAGINATION", header, lazy=True)


def init_api(app: Flask) -> Api:
    """Build this app's Api (never a module-level one) and register every feature's blueprints."""
    from opsadmin.api import docs, health, openapi
    from opsadmin.auth.apikeys import init_api_keys

    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    # Before any API route is added: every <int:…> of the API is bounded.
    app.url_map.converters["int"] = IdConverter
    api = Api(app)
    api.register_converter(IdConverter, _id_parameter_schema)
    api.spec.components.security_scheme(
        "apiKey", {"type": "http", "scheme": "bearer", "description": "An opsadmin API key."}
    )
    init_error_handlers(app)
    init_api_keys(app)
    app.before_request(_require_json_body)
    app.before_request(check_json_body)
    blueprints = [health.blp]
    for feature in FEATURES:
        blueprints += importlib.import_module(f"opsadmin.{feature}.api").blueprints
    for blp in blueprints:
        csrf.exempt(blp)  # API clients authenticate with a bearer key, not a session cookie
        api.register_blueprint(blp)
    # apispec keeps the registered operations in ``_paths``: finish them once, in place.
    openapi.finish(api.spec._paths)  # noqa: SLF001
    docs.init_docs(app, api)
    app.extensions["opsadmin_api"] = api
    return api


def _require_json_body() -> None:
    """415 for a body-carrying API request that is not JSON (before any parsing)."""
    if request.method in BODY_METHODS and is_api_request() and not request.is_json:
        abort(415, "Send the request body as application/json.")
