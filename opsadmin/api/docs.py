"""The API docs page (/api/v1/docs): the OpenAPI document rendered on the server.

No CDN and no JavaScript: the page and its stylesheet come from this app, so reading the docs
makes no external request (the clinics' networks may not allow any).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template

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
                    "responses": sorted(operation.get("responses", {})),
                    "secured": bool(operation.get("security")),
                    "scope": operation.get("x-required-scope", ""),
                }
            )
    return found


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

    csrf.exempt(bp)
    app.register_blueprint(bp)
