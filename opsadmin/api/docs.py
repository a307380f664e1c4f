"""The API docs page (/api/v1/docs): the OpenAPI document rendered on the server.

No CDN and no JavaScript: the page and its stylesheet come from this app, so reading the docs
makes no external request (the clinics' networks may not allow any).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, render_template
from markupsafe import Markup, escape

from opsadmin.api.openapi import markdown
from opsadmin.errors import CATALOGUE
from opsadmin.extensions import csrf

METHODS = ("get", "put", "post", "patch", "delete")


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document, in path order, with what a reader needs."""
    found = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            found.append(
                {
                    "path": path,
                    "method": method.upper(),
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": item.get("parameters", []) + operation.get("parameters", []),
                    "body": _body_schema(operation),
                    "responses": [
                        _response(status, response)
                        for status, response in sorted(operation.get("responses", {}).items())
                    ],
                    "secured": bool(operation.get("security")),
                    "scope": operation.get("x-required-scope", ""),
                }
            )
    return found


def _response(status: str, response: dict[str, Any]) -> dict[str, Any]:
    content = response.get("content", {})
    examples = next(iter(content.values()), {}).get("examples", {}) if content else {}
    return {
        "status": status,
        "description": response.get("description", ""),
        "codes": list(examples),
    }


_CODE = re.compile(r"`([^`]+)`")


def prose(text: str) -> Markup:
    """CommonMark's inline code (the spec's descriptions) as HTML; everything else escaped."""
    paragraphs = [part for part in re.split(r"\n\s*\n", markdown(text or "")) if part.strip()]
    html = "".join(
        "<p>" + _CODE.sub(r"<code>\1</code>", str(escape(part.strip()))) + "</p>"
        for part in paragraphs
    )
    return Markup(html)


def type_label(schema: dict[str, Any] | None) -> str:
    """A schema's type as a reader says it: "integer or null", "list of Location", "Location"."""
    schema = schema or {}
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "")
    if isinstance(kind, list):
        return " or ".join(type_label({**schema, "type": k}) for k in kind)
    if kind == "array":
        return "list of " + type_label(schema.get("items"))
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return kind or "any"


def _body_schema(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def init_docs(app: Flask, api: Any) -> None:
    bp = Blueprint("api_docs_page", __name__)

    @bp.route("/api/v1/docs")
    def api_docs() -> str:
        spec = api.spec.to_dict()
        return render_template(
            "api/docs.html",
            spec=spec,
            operations=operations(spec),
            schemas=spec.get("components", {}).get("schemas", {}),
        )

    @bp.route("/api/v1/docs/errors")
    def api_errors() -> str:
        return render_template("api/errors.html", catalogue=sorted(CATALOGUE, key=_order))

    bp.add_app_template_filter(prose, "prose")
    bp.add_app_template_filter(type_label, "type_label")
    csrf.exempt(bp)
    app.register_blueprint(bp)


def _order(entry: Any) -> tuple[int, str]:
    return entry.status, entry.code
