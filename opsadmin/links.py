"""Absolute links to console pages, built from the app's URL map on ``OPSADMIN_BASE_URL``.

E-mails are built by the worker and the CLI as well as in requests: outside a request
``url_for`` has no host to build on, so the URL map is bound to the configured base URL here
(its scheme, host and path prefix). A link therefore always names a route the console serves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter

from opsadmin.config import setting


def _adapter() -> MapAdapter:
    base = urlsplit(str(setting("OPSADMIN_BASE_URL")).rstrip("/"))
    return current_app.url_map.bind(
        base.netloc or "localhost",
        script_name=base.path or "/",
        url_scheme=base.scheme or "https",
    )


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` (a werkzeug BuildError when the console has no such page)."""
    return _adapter().build(endpoint, values, force_external=True)


def console_home() -> str:
    return external_url("admin.index")
