"""Queues, the enqueue helper and the periodic schedule."""

from __future__ import annotations

from flask import Flask


def init_jobs(app: Flask) -> None:
    """Bind the job queues (Redis when REDIS_URL is set, in-process otherwise)."""
