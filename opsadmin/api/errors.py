"""One place turning every failure of an API request into ``application/problem+json`` (RFC 9457).

Body: ``{"type", "title", "status", "detail", "code", "errors"?}``. Domain errors keep their
``code``; validation errors are 422 with per-field ``errors``; a database or job-queue outage is a
503 with ``Retry-After``; anything unexpected is a generic 500 (logged here, never shown to the
client). Requests outside ``/api/`` and ``/healthz`` keep Flask's own error pages (the console's),
except outages, which answer the console's styled 503 page (:mod:`opsadmin.outage`).
"""

from __future__ import annotations

import http
import json
from typing import Any

import marshmallow as ma
import redis
import sqlalchemy as sa
from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from opsadmin import outage
from opsadmin.errors import DomainError
from opsadmin.extensions import db

PROBLEM_JSON = "application/problem+json"
MALFORMED_JSON = "malformed_json"

# The machine code of a plain HTTP error, when no domain code applies.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document (what every 4xx/5xx of the API answers)."""

    type = ma.fields.String(metadata={"description": "A URI naming the kind of problem."})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable machine code, e.g. room_at_capacity."})
    errors = ma.fields.Dict(metadata={"description": "Per-field messages (422)."})
    session = ma.fields.Integer(
        metadata={"description": "A treatment course's refused session (0-based index)."}
    )


def is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    """A problem+json response; ``code`` defaults to the status's generic code."""
    code = code or HTTP_CODES.get(status, "error")
    body: dict[str, Any] = {
        "type": f"urn:opsadmin:problem:{code}",
        "title": title or http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)  # an extension never overrides a standard member
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def _rollback() -> None:
    # A failed request must not leave a half-done transaction on the scoped session.
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        current_app.logger.warning("rollback after a failed API request failed too")


def _validation_errors(messages: Any) -> dict[str, Any]:
    """webargs nests messages under their location (json, query, …): flatten to field → messages."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def _is_malformed_json(errors: Any) -> bool:
    # webargs' answer to a body that does not parse as JSON.
    return isinstance(errors, dict) and errors.get("json") == ["Invalid JSON body."]


def handle_http_exception(error: HTTPException) -> Response | HTTPException:
    if not is_api_request():
        return error
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = {k: v for k, v in (data.get("headers") or {}).items()}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    errors = None
    if "messages" in data:
        errors = _validation_errors(data["messages"])
    elif "errors" in data:
        errors = data["errors"]
    detail = data.get("message") or error.description or http.HTTPStatus(status).phrase
    if status == 400 and _is_malformed_json(errors):
        return problem(400, "The request body is not valid JSON.", code=MALFORMED_JSON)
    if status == 422 and errors:
        detail = "The request is invalid: see errors for each field."
    if status >= 500:
        _rollback()
    return problem(status, detail, errors=errors, headers=headers)


def handle_domain_error(error: DomainError) -> Response:
    if not is_api_request():
        raise error
    _rollback()
    # The title is the status's phrase for every problem, from a rule or from a schema alike:
    # the machine ``code`` is what distinguishes them.
    return problem(
        error.status,
        error.message,
        code=error.code,
        errors=error.errors,
        extensions=error.extensions,
    )


def handle_database_error(error: sa.exc.DBAPIError | sa.exc.TimeoutError) -> Response:
    _rollback()
    if outage.is_database_outage(error):
        # The driver's own message (not str(error): that would carry the statement's parameters).
        orig = getattr(error, "orig", error)
        current_app.logger.error("database unavailable: %s: %s", type(error).__name__, orig)
        if not is_api_request():
            return outage.console_unavailable(outage.DATABASE)
        return problem(
            503,
            "The database is unavailable; retry later.",
            headers={"Retry-After": outage.retry_after()},
        )
    if not is_api_request():
        raise error
    if isinstance(error, sa.exc.DataError):
        # A value the database refuses to hold (a NUL byte, a number out of range) that no
        # schema caught: the client's input, so a 422 rather than a 500.
        return problem(422, "A value in the request cannot be stored.", code="invalid_input")
    if isinstance(error, sa.exc.IntegrityError):
        # A constraint the service did not check first (e.g. a concurrent duplicate).
        return problem(409, "The change conflicts with existing data.", code="conflict")
    return handle_unexpected(error)


def handle_queue_outage(error: redis.RedisError) -> Response:
    """Redis (the job queue) unreachable where a request needed it."""
    current_app.logger.error("job queue unavailable: %s", type(error).__name__)
    _rollback()
    if not is_api_request():
        return outage.console_unavailable(outage.QUEUE)
    return problem(
        503,
        "The job queue is unavailable; retry later.",
        headers={"Retry-After": outage.retry_after()},
    )


def handle_unexpected(error: Exception) -> Response:
    if not is_api_request():
        raise error
    current_app.logger.exception("unexpected error in %s %s", request.method, request.path)
    _rollback()
    return problem(500, "An unexpected error occurred; it has been logged.")


def init_error_handlers(app: Flask) -> None:
    """Register the handlers on the app (after flask-smorest's, which they replace)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(sa.exc.DBAPIError, handle_database_error)
    app.register_error_handler(sa.exc.TimeoutError, handle_database_error)
    app.register_error_handler(redis.ConnectionError, handle_queue_outage)
    app.register_error_handler(redis.TimeoutError, handle_queue_outage)
    app.register_error_handler(Exception, handle_unexpected)
