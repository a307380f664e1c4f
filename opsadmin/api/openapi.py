"""The OpenAPI document made fit for readers and client generators, once every route is in.

- Every error response is ``application/problem+json`` with the Problem schema, lists the codes
  it may carry and gives an example of each (from :data:`opsadmin.errors.CATALOGUE`).
- Statuses every operation can answer are declared: 401/403/429 for a keyed operation, 400
  ``malformed_json`` and 415 for one with a body, 404 for one with a path parameter, 503 always.
- Idempotent POSTs declare the ``Idempotent-Replayed`` header of their answers.
- Docstrings written in reST (````code````, ``:func:`name```) become CommonMark.
"""

from __future__ import annotations

import re
from typing import Any

from opsadmin.api.errors import PROBLEM_JSON
from opsadmin.errors import CATALOGUE, ErrorCode

BODY_METHODS = ("post", "put", "patch")
METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# The code a status carries when the operation names none of its own.
GENERIC = {
    400: ("bad_request",),
    401: ("unauthorized",),
    403: ("forbidden",),
    404: ("not_found",),
    409: ("conflict", "duplicate"),
    412: ("precondition_failed",),
    415: ("unsupported_media_type",),
    422: ("invalid_input",),
    429: ("rate_limited",),
    503: ("service_unavailable",),
}
_BY_CODE = {entry.code: entry for entry in CATALOGUE}
_LITERAL = re.compile(r"``([^`]+)``")
_ROLE = re.compile(r":[a-z:]+:`~?([^`]+)`")


def markdown(text: str) -> str:
    """reST inline markup as CommonMark: ````x```` and ``:func:`x``` become ```x```."""
    return _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", _LITERAL.sub(r"`\1`", text))


def example(entry: ErrorCode) -> dict[str, Any]:
    body = {
        "type": f"urn:opsadmin:problem:{entry.code}",
        "title": _phrase(entry.status),
        "status": entry.status,
        "detail": entry.example,
        "code": entry.code,
    }
    if entry.status == 422:
        body["errors"] = {"field": ["Not a valid value."]}
    return body


def _phrase(status: int) -> str:
    import http

    return http.HTTPStatus(status).phrase


def problem_response(status: int, codes: list[str], note: str = "") -> dict[str, Any]:
    entries = [_BY_CODE[code] for code in codes if code in _BY_CODE]
    listed = ", ".join(f"`{e.code}`" for e in entries)
    description = markdown(note) if note else _phrase(status)
    if listed:
        description = f"{description.rstrip('.')}. Codes: {listed}."
    return {
        "description": description,
        "content": {
            PROBLEM_JSON: {
                "schema": PROBLEM_REF,
                "examples": {e.code: {"summary": e.meaning, "value": example(e)} for e in entries},
            }
        },
    }


def _codes_named_in(text: str, status: int) -> list[str]:
    return [
        e.code for e in CATALOGUE if e.status == status and re.search(rf"\b{e.code}\b", text or "")
    ]


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    found = {int(s) for s in operation.get("responses", {}) if s.isdigit() and int(s) >= 400}
    if operation.get("security"):
        found |= {401, 403, 429}
    if method in BODY_METHODS:
        found |= {400, 415, 422}
    if method in ("post", "patch", "delete"):
        found.add(409)
    if "{" in path:
        found.add(404)
    return found | {503}


def _error_response(
    status: int, existing: dict[str, Any], method: str, idempotent: bool
) -> dict[str, Any]:
    note = "" if "$ref" in existing else existing.get("description", "")
    codes = _codes_named_in(note, status)
    if codes:
        note = note.split(":")[0] if ":" in note else ""  # the codes are listed below
    else:
        codes = list(GENERIC.get(status, ()))
    if status == 400 and method in BODY_METHODS:
        codes = ["malformed_json", "bad_request"]
    if status == 422 and idempotent:
        codes.append("idempotency_key_reused")
    if status == 422 and not note:
        note = "Invalid input: `errors` holds the messages of each field."
    return problem_response(status, codes, "" if note == _phrase(status) else note)


REPLAYED_HEADER = {
    "description": "`true` when this answer is the stored answer of an earlier request with the "
    "same Idempotency-Key and body (nothing was done again).",
    "schema": {"type": "string", "enum": ["true"]},
}


def _declare_replay_header(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if status.isdigit() and 200 <= int(status) < 300 and "$ref" not in response:
            response.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED_HEADER


def finish(paths: dict[str, dict[str, Any]]) -> None:
    """Rewrite the registered operations in place (call once, after every blueprint)."""
    for path, item in paths.items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for key in ("summary", "description"):
                if operation.get(key):
                    operation[key] = markdown(operation[key])
            responses = operation.setdefault("responses", {})
            idempotent = "Idempotency-Key" in str(operation.get("parameters", ""))
            if idempotent:
                _declare_replay_header(responses)
            for status in sorted(_statuses(path, method, operation)):
                existing = responses.get(str(status), {})
                responses[str(status)] = _error_response(status, existing, method, idempotent)
