"""Jobs in one layer: queue names, ``enqueue(queue, func, *ids)`` and the job class that runs a
feature's own function inside an app context.

Queues: ``reports`` (building), ``email`` (one job per delivery), ``webhooks`` (one job per
webhook attempt), ``default`` (dispatcher, daily jobs, the webhook sweep). A job is a plain function of ids and primitives in the feature's ``jobs`` module. With
REDIS_URL set, :func:`enqueue` hands it to RQ with the queue's timeout and retries with back-off,
and the worker runs it through :class:`AppJob`, which pushes the worker's app context around it
(as flask-rq and redash do). Without REDIS_URL (the embedded default) the function runs at once,
in-process, in the caller's app context.

This package is plumbing below the features: it names no feature and never builds the app
(``worker.py`` does, and binds it with :func:`bind_worker_app`). The periodic schedule, which
does name the features' jobs, is :mod:`opsadmin.jobs.schedule`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from flask import Flask, has_app_context
from rq.job import Job

from opsadmin.config import setting
from opsadmin.extensions import db

REPORTS, EMAIL, WEBHOOKS, DEFAULT = "reports", "email", "webhooks", "default"
QUEUES = (REPORTS, EMAIL, WEBHOOKS, DEFAULT)
DEFAULT_RETRY_INTERVALS = (30, 120, 600)
EMAIL_JOB_TIMEOUT = 120
DISPATCH_JOB_TIMEOUT = 300
FAILURE_TTL = 7 * 24 * 3600

log = logging.getLogger(__name__)

_worker_app: Flask | None = None
_pool_pid: int | None = None


def is_inline() -> bool:
    """True when jobs run in-process (no REDIS_URL)."""
    return not setting("REDIS_URL")


@cache
def connection(url: str) -> Any:
    """One Redis connection per URL and process. Bounded: an enqueue against a hung Redis fails
    in OPSADMIN_REDIS_TIMEOUT seconds (an RQ worker raises the read timeout above its blocking
    dequeue's by itself)."""
    from redis import Redis

    timeout = float(setting("OPSADMIN_REDIS_TIMEOUT") or 1)
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def queue(name: str) -> Any:
    """The RQ queue ``name`` of the current app's Redis."""
    from rq import Queue

    return Queue(name, connection=connection(setting("REDIS_URL")), job_class=AppJob)


def timeout_of(queue_name: str) -> int:
    """Seconds a job of ``queue_name`` may run."""
    if queue_name == REPORTS:
        return int(setting("OPSADMIN_REPORT_JOB_TIMEOUT") or 600)
    return EMAIL_JOB_TIMEOUT if queue_name == EMAIL else DISPATCH_JOB_TIMEOUT


def retry_intervals() -> list[int]:
    return list(setting("OPSADMIN_JOB_RETRY_INTERVALS") or DEFAULT_RETRY_INTERVALS)


def enqueue(queue_name: str, func: Callable[..., Any], *ids: Any) -> str | None:
    """Run ``func(*ids)`` as a job on ``queue_name``; the RQ job id, or None in-process.

    Every call is a new job (a fresh id): a second enqueue of the same work is a second job
    that finds it already claimed — the database decides, not Redis. In-process, a failure is
    logged, not raised: the job itself records its outcome.
    """
    if is_inline():
        try:
            func(*ids)
        except Exception:
            log.exception("in-process job %s%r failed", func.__name__, ids)
        return None
    from rq import Retry

    intervals = retry_intervals()
    job_id = "-".join([func.__name__.replace("_", "-"), *map(str, ids), uuid.uuid4().hex[:8]])
    job = queue(queue_name).enqueue(
        func, args=ids, job_id=job_id, job_timeout=timeout_of(queue_name),
        failure_ttl=FAILURE_TTL, retry=Retry(max=len(intervals), interval=intervals),
    )  # fmt: skip
    return job.id


def enqueue_at(
    when: dt.datetime, queue_name: str, func: Callable[..., Any], *ids: Any
) -> str | None:
    """Like :func:`enqueue`, to run no earlier than ``when`` (RQ's scheduler, which every worker
    runs). In-process nothing runs now: the job's own ledger keeps the work due for a sweep."""
    if is_inline():
        return None
    from rq import Retry

    intervals = retry_intervals()
    job_id = "-".join([func.__name__.replace("_", "-"), *map(str, ids), uuid.uuid4().hex[:8]])
    job = queue(queue_name).enqueue_at(
        when, func, args=ids, job_id=job_id, job_timeout=timeout_of(queue_name),
        failure_ttl=FAILURE_TTL, retry=Retry(max=len(intervals), interval=intervals),
    )  # fmt: skip
    return job.id


def bind_worker_app(app: Flask) -> Flask:
    """Make ``app`` the one the worker's jobs run in (built once, before the work horses fork)."""
    global _worker_app
    _worker_app = app
    return app


def run_in_app(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` inside an app context: the caller's, or the worker's own."""
    global _pool_pid
    if has_app_context():
        return func(*args)
    if _worker_app is None:
        raise RuntimeError("no app to run the job in: call bind_worker_app() first")
    with _worker_app.app_context():
        if _pool_pid != os.getpid():
            # A forked work horse must not share the parent's pooled connections.
            db.engine.dispose(close=False)
            _pool_pid = os.getpid()
        try:
            return func(*args)
        finally:
            db.session.remove()


class AppJob(Job):
    """An RQ job that runs its function inside the worker's app context."""

    def _execute(self) -> Any:
        return run_in_app(super()._execute)
