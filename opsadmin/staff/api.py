"""JSON API of the staff feature (DESIGN §6)."""

from __future__ import annotations

from flask_smorest import Blueprint

blueprints: list[Blueprint] = []
