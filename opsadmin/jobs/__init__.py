"""Queues, the enqueue helper and the periodic schedule (DESIGN §7).

Queues: ``reports`` (building), ``email`` (one job per delivery), ``default`` (dispatcher, daily
jobs). With REDIS_URL set jobs go to RQ with an explicit timeout and retries with back-off; without
it (the embedded default) the same functions run synchronously, in-process, in the caller's app
context. Features reach this through ``current_app.extensions["opsadmin_jobs"]`` (a :class:`Jobs`),
never by importing this package.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import cached_property
from typing import Any

from flask import Flask

REPORTS, EMAIL, DEFAULT = "reports", "email", "default"
QUEUES = (REPORTS, EMAIL, DEFAULT)
DEFAULT_RETRY_INTERVALS = (30, 120, 600)
EMAIL_JOB_TIMEOUT = 120
DISPATCH_JOB_TIMEOUT = 300

log = logging.getLogger(__name__)


class Jobs:
    """The app's job queues: RQ when REDIS_URL is set, in-process otherwise."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.redis_url = config.get("REDIS_URL") or None
        self.redis_timeout = float(config.get("OPSADMIN_REDIS_TIMEOUT") or 1)
        self.report_timeout = int(config.get("OPSADMIN_REPORT_JOB_TIMEOUT") or 600)
        self.retry_intervals = list(
            config.get("OPSADMIN_JOB_RETRY_INTERVALS") or DEFAULT_RETRY_INTERVALS
        )

    @property
    def inline(self) -> bool:
        return self.redis_url is None

    @cached_property
    def connection(self) -> Any:
        from redis import Redis

        # Bounded: an enqueue against a hung Redis fails in seconds (a worker raises the read
        # timeout above its blocking dequeue's by itself).
        return Redis.from_url(
            self.redis_url,
            socket_timeout=self.redis_timeout,
            socket_connect_timeout=self.redis_timeout,
        )

    def queue(self, name: str) -> Any:
        from rq import Queue

        return Queue(name, connection=self.connection)

    def enqueue(
        self, queue: str, func: Callable[..., Any], *args: Any, job_id: str | None = None,
        timeout: int, retry: bool = True,
    ) -> str | None:  # fmt: skip
        """Enqueue ``func(*args)``; inline, run it now (its failure is logged: the job itself
        records the outcome in the ledger). Returns the RQ job id, or None inline."""
        if self.inline:
            try:
                func(*args)
            except Exception:
                log.exception("in-process job %s%r failed", func.__name__, args)
            return None
        from rq import Retry

        options: dict[str, Any] = {"job_timeout": timeout, "failure_ttl": 7 * 24 * 3600}
        if retry:
            options["retry"] = Retry(max=len(self.retry_intervals), interval=self.retry_intervals)
        job = self.queue(queue).enqueue(func, args=args, job_id=job_id, **options)
        return job.id

    # The jobs, by name: each gets a fresh job id, so a second enqueue of the same run is a
    # second job that finds the run already claimed (the database decides, not Redis).
    def run_report(self, run_id: int) -> str | None:
        from opsadmin.jobs import tasks

        job_id = f"report-run-{run_id}-{uuid.uuid4().hex[:8]}"
        return self.enqueue(
            REPORTS, tasks.run_report, run_id, job_id=job_id, timeout=self.report_timeout
        )

    def send_delivery(self, delivery_id: int, generation: int) -> str | None:
        from opsadmin.jobs import tasks

        job_id = f"report-delivery-{delivery_id}-g{generation}-{uuid.uuid4().hex[:8]}"
        return self.enqueue(
            EMAIL, tasks.send_delivery, delivery_id, generation, job_id=job_id,
            timeout=EMAIL_JOB_TIMEOUT,
        )  # fmt: skip

    def dispatch_reports(self) -> str | None:
        from opsadmin.jobs import tasks

        return self.enqueue(DEFAULT, tasks.dispatch_reports, timeout=DISPATCH_JOB_TIMEOUT)


def init_jobs(app: Flask) -> None:
    """Bind the job queues (Redis when REDIS_URL is set, in-process otherwise)."""
    app.extensions["opsadmin_jobs"] = Jobs(app.config)
