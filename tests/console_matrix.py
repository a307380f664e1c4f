"""The console's endpoints as a table, and who may do what there (SEC-AC-01).

``console_endpoints(app)`` enumerates every Flask-Admin rule under /admin/ (list, new, edit,
details, delete, export, ajax, action); ``EXPECTED`` says what each role gets on each kind of
endpoint. Extend the table (more roles, per-view exceptions) rather than writing another loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask

# Endpoint kinds (the part after the dot) that change data, or open a page that does.
WRITE_KINDS = frozenset({"create_view", "edit_view", "delete_view", "action_view", "ajax_update"})
PUBLIC_ENDPOINTS = frozenset({"admin.static"})


@dataclass(frozen=True)
class ConsoleEndpoint:
    endpoint: str
    url: str
    methods: frozenset[str]

    @property
    def view(self) -> str:
        return self.endpoint.split(".")[0]

    @property
    def kind(self) -> str:
        return self.endpoint.split(".")[-1]

    @property
    def writes(self) -> bool:
        return self.kind in WRITE_KINDS


def console_endpoints(app: Flask) -> list[ConsoleEndpoint]:
    """Every console rule, with its URL built (an export's type filled in as csv)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = rule.rule.replace("<export_type>", "csv")
        # Other path arguments: an id for ints (the access check answers before any lookup).
        url = re.sub(r"<int:\w+>", "1", url)
        url = re.sub(r"<(?:\w+:)?\w+>", "html", url)
        methods = frozenset(rule.methods - {"HEAD", "OPTIONS"})
        found.append(ConsoleEndpoint(rule.endpoint, url, methods))
    return sorted(found, key=lambda e: e.endpoint)


def requests_for(endpoint: ConsoleEndpoint) -> list[tuple[str, str]]:
    """(method, url) pairs to try on an endpoint: its GET page and its POST, where it has them."""
    url = endpoint.url + ("?id=1" if endpoint.kind in ("edit_view", "details_view") else "")
    return [(method, url) for method in sorted(endpoint.methods)]


def anonymous_expected(endpoint: ConsoleEndpoint, method: str) -> str:
    return "login"


def regional_lead_expected(endpoint: ConsoleEndpoint, method: str) -> str:
    """A regional lead reads (or is refused a view outright) but never writes."""
    if endpoint.writes or method == "POST":
        return "forbidden"
    return "any"


def _view_of(endpoint: ConsoleEndpoint):
    from flask import current_app

    admin = current_app.extensions["opsadmin_admin"]
    return next((v for v in admin._views if v.endpoint == endpoint.view), None)


def _signed_in_expected(role: str):
    """What a signed-in ``role`` gets, from each view's own declaration (allowed/write roles):
    "forbidden" where the role is not allowed, else "allowed" (neither refused nor an error)."""

    def expected(endpoint: ConsoleEndpoint, method: str) -> str:
        view = _view_of(endpoint)
        if role not in getattr(view, "allowed_roles", ("admin", "ops_manager", "regional_lead")):
            return "forbidden"
        writing = endpoint.writes or method == "POST"
        if writing and role not in getattr(view, "write_roles", ("admin", "ops_manager")):
            return "forbidden"
        return "allowed"

    return expected


# admin, ops_manager of region A, ops_manager with no region (issue 6: the full role matrix).
EXPECTED = {
    "anonymous": anonymous_expected,
    "regional_lead": regional_lead_expected,
    "admin": _signed_in_expected("admin"),
    "ops_manager": _signed_in_expected("ops_manager"),
    "ops_manager_no_region": _signed_in_expected("ops_manager"),
}


def outcome(response) -> str:
    if response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", ""):
        return "login"
    if response.status_code == 403:
        return "forbidden"
    return f"status {response.status_code}"


def violations(client, app: Flask, role: str) -> list[str]:
    """Every (method, url) whose outcome differs from ``EXPECTED[role]``."""
    expected_for = EXPECTED[role]
    wrong = []
    for endpoint in console_endpoints(app):
        for method, url in requests_for(endpoint):
            expected = expected_for(endpoint, method)
            response = client.open(url, method=method, data={})
            got = outcome(response)
            if expected == "any":
                if response.status_code >= 500:
                    wrong.append(f"{method} {url}: {got}")
            elif expected == "allowed":
                if got in ("login", "forbidden") or response.status_code >= 500:
                    wrong.append(f"{method} {url}: expected allowed, got {got}")
            elif got != expected:
                wrong.append(f"{method} {url}: expected {expected}, got {got}")
    return wrong
