"""The JSON API (/api/v1): the smorest Api per app, problem+json errors, shared schemas."""

from __future__ import annotations

from flask import Flask


def init_api(app: Flask) -> None:
    """Build this app's Api and register every feature's blueprint."""
