"""Profile one API request kind in-process on a benchmark database: statements and cProfile.

    python -m benchmarks.profile_api get|availability|week|put [--database-url …] [--count 300]

The app is built as gunicorn builds it (production settings, the benchmark's Redis for the rate
limiter) and driven through Flask's test client, so the figures leave out HTTP and the server but
keep everything opsadmin does per request: key check, transaction, load, rules, serialisation.
Prints statements per request (and what they are) and the top of the cumulative profile.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import tempfile
import time
from collections import Counter

from benchmarks import generate, http_bench
from benchmarks.common import captured_statements


def requests_for(kind: str, engine, count: int) -> list[tuple[str, str, str]]:
    monday = dt.date(2026, 3, 2)
    if kind == "get":
        lines = http_bench.appointment_lines(engine, count)
    elif kind == "availability":
        lines = http_bench.availability_lines(monday)
    elif kind == "week":
        lines = http_bench.week_availability_lines(monday)
    else:
        lines = http_bench.put_lines(days=1)
    parsed = [tuple((line.split("\t") + [""])[:3]) for line in lines]
    return parsed[:count]


def run(kind: str, url: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as instance:
        os.environ.update(http_bench.server_environment(url, instance))
        from opsadmin.app import create_app
        from opsadmin.extensions import db

        app = create_app()
        client = app.test_client()
        with app.app_context():
            engine = db.engine
            key = http_bench.new_api_key(engine)
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        todo = requests_for(kind, engine, count)
        send = _sender(client, headers)
        for item in todo[:20]:  # warm: first requests fill caches and the pool
            send(*item)
        # Two halves: timed and counted, then profiled (a PUT repeated would be a no-op).
        half = (len(todo) - 20) // 2
        timed, profiled = todo[20 : 20 + half], todo[20 + half :]
        started = time.perf_counter()
        with captured_statements(engine) as statements:
            statuses = Counter(send(*item) for item in timed)
        wall = (time.perf_counter() - started) / max(len(timed), 1)
        profile = cProfile.Profile()
        profile.enable()
        for item in profiled:
            send(*item)
        profile.disable()
    measured = max(len(timed), 1)
    print(f"{kind}: {measured} requests, statuses {dict(statuses)}")
    print(f"wall time per request (unprofiled, statements captured): {wall * 1000:.2f} ms")
    print(f"statements per request: {len(statements) / measured:.2f}")
    shapes = Counter(" ".join(s.sql.split())[:90] for s in statements)
    for shape, n in shapes.most_common(int(os.environ.get("PROFILE_SHAPES", "12"))):
        print(f"  {n / measured:5.2f} × {shape}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(
        os.environ.get("PROFILE_SORT", "cumulative")
    ).print_stats(int(os.environ.get("PROFILE_ROWS", "35")))
    print(out.getvalue())


def _sender(client, headers):
    def send(method: str, path: str, body: str) -> int:
        if body:
            response = client.open(path, method=method, data=body, headers=headers,
                                   content_type="application/json")  # fmt: skip
        else:
            response = client.open(path, method=method, headers=headers)
        return response.status_code

    return send


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_api", description=__doc__)
    parser.add_argument("kind", choices=("get", "availability", "week", "put"))
    parser.add_argument("--database-url", default=generate.DEFAULT_URL)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    run(args.kind, args.database_url, args.count)


if __name__ == "__main__":
    main()
