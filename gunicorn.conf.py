"""gunicorn's settings for opsadmin, read by ``gunicorn wsgi:app`` from the working directory.

Production and the benchmarks (``benchmarks/http_bench.py``) run the same file, so the figures in
benchmarks/RESULTS.md are what a deployment gets. Environment variables override the defaults:
``WEB_CONCURRENCY`` (worker processes), ``GUNICORN_THREADS`` (threads per worker), ``PORT``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

# One process per core, four threads each (gthread). An API request waits on PostgreSQL for much
# of its time (a dozen round trips), and a thread lets the core serve another request meanwhile.
# Measured on 2 cores at 16 connections: PUT 55–79 req/s with 2 × 4 threads against 19 with the
# former 4 sync workers, availability 33–59 against 13–27 (benchmarks/README.md).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
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
