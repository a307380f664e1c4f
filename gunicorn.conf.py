"""gunicorn's settings for opsadmin, read by ``gunicorn wsgi:app`` from the working directory.

Production and the benchmarks (``benchmarks/http_bench.py``) run the same file, so the figures in
benchmarks/RESULTS.md are what a deployment gets. Environment variables override the defaults:
``WEB_CONCURRENCY`` (worker processes), ``GUNICORN_THREADS`` (threads per worker), ``PORT``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

# Sync workers, 2 × cores: an API request waits on PostgreSQL for much of its time (a dozen round
# trips), and a second process per core keeps the core busy meanwhile. gthread (a process per
# core, 4 threads) measured no better on 2 cores at 16 connections, interleaved A/B under the same
# load: throughput within the noise either way, worse p99 in one round (benchmarks/README.md).
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 1))  # > 1 makes them gthread workers
bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# A browser or the booking system keeps its connection open between requests.
keepalive = 5
timeout = 60


def post_worker_init(worker: object) -> None:
    """Freeze the loaded application out of the cyclic garbage collector.

    The app, flask-admin, SQLAlchemy's mappers and the OpenAPI spec are some 200,000 long-lived
    objects; every full collection walked them all, about 4 ms per availability request in the
    profile. Frozen, collections only look at what requests allocate.
    """
    gc.collect()
    gc.freeze()
