"""RQ entry points: each runs the feature's job inside an app context.

In a worker the app is built once in the worker process (``worker_app``), before the work horse
forks; the horse drops the inherited connection pool and opens its own. In-process (embedded
mode, tests, the CLI) the caller's app context is used as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask, has_app_context

from opsadmin.extensions import db
from opsadmin.reports import jobs as report_jobs

_app: Flask | None = None
_pool_pid: int | None = None


def worker_app() -> Flask:
    """The worker's app (built from the environment, once per process)."""
    global _app
    if _app is None:
        from opsadmin.app import create_app

        _app = create_app()
    return _app


def _in_app(func: Callable[..., Any], *args: Any) -> Any:
    global _pool_pid
    if has_app_context():
        return func(*args)
    with worker_app().app_context():
        if _pool_pid != os.getpid():
            # A forked work horse must not share the parent's pooled connections.
            db.engine.dispose(close=False)
            _pool_pid = os.getpid()
        try:
            return func(*args)
        finally:
            db.session.remove()


def dispatch_reports(now: str | None = None) -> list[int]:
    return _in_app(report_jobs.dispatch_reports, now)


def run_report(run_id: int) -> str:
    return _in_app(report_jobs.run_report, run_id)


def send_delivery(delivery_id: int, generation: int) -> str:
    return _in_app(report_jobs.send_delivery, delivery_id, generation)


def notify_credential_expiry(on: str | None = None) -> int:
    return _in_app(report_jobs.notify_credential_expiry, on)


def check_bookings_at_risk() -> int:
    from opsadmin.bookings import jobs as booking_jobs

    return _in_app(booking_jobs.check_bookings_at_risk)
