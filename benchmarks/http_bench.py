"""(3) Availability and appointment reads, and (4) concurrent booking PUTs, under gunicorn with wrk.

Each server is ``gunicorn`` on 127.0.0.1 at a free random port with the repository's
``gunicorn.conf.py`` (the production settings: 2 × cores sync workers, heap frozen); the bare
floor (``benchmarks.bare_app``) is served by the very same command. Load comes from Debian's
``wrk`` (16 connections, 2 threads, a fixed duration: bounded in time, and in count by the request
files it replays), with ``benchmarks/wrk/requests.lua`` adding the Bearer key and the PUT bodies.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks import generate
from benchmarks.common import Results

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk" / "requests.lua"
CONNECTIONS = 16
WRK_THREADS = 2


@dataclass
class WrkResult:
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def warmup(duration: int) -> int:
    """Seconds of unmeasured load first: each worker's first requests fill its caches (~0.5 s each)."""
    return max(2, min(5, duration // 3))


def workers() -> int:
    """Worker processes per server, as gunicorn.conf.py resolves them (WEB_CONCURRENCY or 2 × cores)."""
    return int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))


def threads() -> int:
    """Threads per worker, as gunicorn.conf.py resolves them (GUNICORN_THREADS or 1: sync)."""
    return int(os.environ.get("GUNICORN_THREADS") or 1)


def server_description() -> str:
    kind = "sync" if threads() == 1 else f"gthread × {threads()} threads"
    return f"{workers()} {kind} (gunicorn.conf.py: 2 × cores), heap frozen"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_spec() -> str:
    return "wsgi:app" if (ROOT / "wsgi.py").exists() else "opsadmin.app:create_app()"


def server_environment(database_url: str, instance: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
        SECRET_KEY="benchmark-only-secret-key-0123456789",
        OPSADMIN_ENV="production",
        OPSADMIN_INSTANCE_DIR=instance,
        # The per-key limit protects production; here it would measure the limiter, not the app.
        OPSADMIN_API_RATE_LIMIT="100000000 per minute",
    )
    return env


@contextmanager
def gunicorn(spec: str, env: dict[str, str], probe: str) -> Iterator[str]:
    """Serve ``spec`` on a random 127.0.0.1 port; yield its base URL; stop it (this process only)."""
    port = free_port()
    # The repository's gunicorn.conf.py, as in production: workers, threads, the frozen heap.
    command = [sys.executable, "-m", "gunicorn", spec, "--config", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + probe, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers: that is all we wait for
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


_DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _milliseconds(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:  # "-nan…": wrk measured no latency (no request completed)
        return float("nan")
    value, unit = match.groups()
    return float(value) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str, default: str = "0") -> str:
        match = re.search(pattern, output)
        return match.group(1) if match else default

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(find(r"(\d+) requests in")),
        per_second=float(find(r"Requests/sec:\s+([\d.]+)")),
        # Anchored to the line: "Req/Sec … 62.50%" (a stdev share) also ends in "50%".
        p50_ms=_milliseconds(find(r"(?m)^\s+50%\s+(\S+)", "0ms")),
        p99_ms=_milliseconds(find(r"(?m)^\s+99%\s+(\S+)", "0ms")),
        non_2xx=int(find(r"Non-2xx or 3xx responses: (\d+)")),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(base: str, lines: list[str], duration: int, api_key: str = "") -> WrkResult:
    """Replay ``lines`` against ``base`` for ``duration`` seconds at 16 connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    env = dict(os.environ, BENCH_REQUESTS=handle.name, BENCH_API_KEY=api_key,
               BENCH_THREADS=str(WRK_THREADS))  # fmt: skip
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency",
               "--timeout", "10s", "-s", str(LUA), base]  # fmt: skip
    try:
        output = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=duration + 60
        )
    finally:
        os.unlink(handle.name)
    return parse_wrk(output.stdout)


# -- request files ---------------------------------------------------------------------------------
def availability_lines(week_monday: dt.date) -> list[str]:
    lines = []
    codes = [code for code, *_ in _location_codes()]
    for offset in range(6):
        day = week_monday + dt.timedelta(days=offset)
        for index, code in enumerate(codes):
            kind, duration = ("infusion", 120) if index % 3 else ("consult", 60)
            path = (
                f"/api/v1/locations/{code}/availability?date={day}&kind={kind}&duration={duration}"
            )
            lines.append(f"GET\t{path}")
    # Interleave days and sites so concurrent requests do not all read the same rows.
    return lines[::7] + [line for i, line in enumerate(lines) if i % 7]


def week_availability_lines(week_monday: dt.date) -> list[str]:
    """The same sites and kinds as :func:`availability_lines`, each asked for the whole week."""
    lines = []
    last = week_monday + dt.timedelta(days=6)
    for index, (code, *_rest) in enumerate(_location_codes()):
        kind, duration = ("infusion", 120) if index % 3 else ("consult", 60)
        lines.append(
            f"GET\t/api/v1/locations/{code}/availability"
            f"?from={week_monday}&to={last}&kind={kind}&duration={duration}"
        )
    return lines


def _location_codes() -> list[tuple[str, str, str]]:
    found = []
    for region_code, _name, state, tz in generate.REGIONS:
        for n in range(1, generate.LOCATIONS_PER_REGION + 1):
            found.append((f"{region_code}{n:03d}", state, tz))
    return found


def appointment_lines(engine: sa.Engine, count: int = 4000) -> list[str]:
    with engine.connect() as conn:
        total = conn.scalar(sa.text("SELECT max(id) FROM appointment"))
        stride = max(total // count, 1)
        ids = conn.scalars(
            sa.text("SELECT external_id FROM appointment WHERE id % :stride = 0 LIMIT :count"),
            {"stride": stride, "count": count},
        ).all()
    return [f"GET\t/api/v1/appointments/{external_id}" for external_id in ids]


def _eligible_clinicians(location_id: int) -> list[int]:
    first = (location_id - 1) * generate.STAFF_PER_LOCATION + 1
    staff = range(first, first + generate.CLINICIANS_PER_LOCATION)
    # The generator lets a few licences and ACLS lapse; those clinicians would be refused.
    return [s for s in staff if s % 41 and s % 97]


def put_lines(days: int = 4) -> list[str]:
    """Bookings of free chairs after the generated data: every one should pass every rule."""
    lines, day, number = [], generate.END, 0
    while days:
        if day.weekday() < 6 and day not in generate.holidays(day, day + dt.timedelta(days=1)):
            lines.extend(_day_bookings(day, number))
            number += 10**6
            days -= 1
        day += dt.timedelta(days=1)
    return lines


def _day_bookings(day: dt.date, number: int) -> list[str]:
    """A day's infusions: each 2-hour slot of each site gets one booking per eligible clinician
    (no clinician twice at once), filling the rooms chair by chair, room after room."""
    import json

    lines = []
    chairs = [(room, chair) for room, capacity in enumerate(generate.INFUSION_CAPACITIES)
              for chair in range(capacity)]  # fmt: skip
    for slot in range(5):
        for turn in range(generate.CLINICIANS_PER_LOCATION):
            for location_id, (code, _state, tz) in enumerate(_location_codes(), start=1):
                clinicians = _eligible_clinicians(location_id)
                if turn >= len(clinicians):
                    continue
                ordinal, _chair = chairs[turn]
                start = dt.datetime.combine(day, generate.OPENS, ZoneInfo(tz)) + dt.timedelta(
                    hours=2 * slot
                )
                number += 1
                body = {
                    "location": code,
                    "room_id": (location_id - 1) * generate.ROOMS_PER_LOCATION + ordinal + 1,
                    "staff_id": clinicians[turn],
                    "kind": "infusion", "indication": "migraine", "patient_ref": f"P-B{number}",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
                    "status": "booked",
                }  # fmt: skip
                lines.append(f"PUT\t/api/v1/appointments/BENCH-{number}\t{json.dumps(body)}")
    return lines


def new_api_key(engine: sa.Engine) -> str:
    """A read/write key in the benchmark database; earlier benchmark bookings are removed first."""
    from opsadmin.auth.service import create_api_key

    with Session(engine) as session:
        session.execute(sa.text("DELETE FROM appointment WHERE external_id LIKE 'BENCH-%'"))
        _key, plaintext = create_api_key(session, "benchmark", ["read", "write"], "benchmarks")
        session.commit()
    return plaintext


# -- the measurements ----------------------------------------------------------------------------
# The targets, measured side by side in one run (ratios of throughput or latency).
TARGETS = {
    "availability": (0.60, "≥ 60 %"),  # one site-day availability / keyed GET throughput
    "keyed_get": (0.30, "≥ 30 %"),  # keyed GET / bare endpoint throughput
    "put": (0.40, "≥ 40 %"),  # booking PUT / keyed GET throughput
    "week": (2.0, "≤ 2.0"),  # week availability latency / one-day availability latency
    "p99_ms": (100.0, "< 100 ms"),
}


def measure(results: Results, engine: sa.Engine, database_url: str, week_monday: dt.date,
            duration: int) -> None:  # fmt: skip
    if shutil.which("wrk") is None:
        results.notes.append("wrk not installed (apt-get install -y wrk): HTTP figures skipped.")
        return
    with tempfile.TemporaryDirectory() as instance:
        env = server_environment(database_url, instance)
        with gunicorn("benchmarks.bare_app:app", env, "/bare") as base:
            run_wrk(base, ["GET\t/bare"], warmup(duration))
            bare = run_wrk(base, ["GET\t/bare"], duration)
        _report(results, "bare JSON endpoint (floor)", bare)
        key = new_api_key(engine)
        with gunicorn(app_spec(), env, "/healthz") as base:
            reads = _reads(results, base, key, engine, week_monday, duration)
            first_day = put_lines(days=1)
            run_wrk(base, first_day, warmup(duration), key)  # a day of its own
            puts = run_wrk(base, put_lines(days=5)[len(first_day) :], duration, key)
    _report(results, "PUT /api/v1/appointments/{id} (new bookings, every rule)", puts,
            section="4 booking")  # fmt: skip
    _ratios(results, bare, reads, puts)
    _count_bookings(results, engine)


def _reads(results, base, key, engine, week_monday, duration) -> dict[str, WrkResult]:
    measured = {}
    for name, lines in (
        ("availability (one site-day)", availability_lines(week_monday)),
        ("availability (a week, from/to)", week_availability_lines(week_monday)),
        ("GET /api/v1/appointments/{id}", appointment_lines(engine)),
    ):
        run_wrk(base, lines, warmup(duration), key)
        measured[name] = result = run_wrk(base, lines, duration, key)
        _report(results, name, result)
    return measured


def _ratios(
    results: Results, bare: WrkResult, reads: dict[str, WrkResult], puts: WrkResult
) -> None:
    day = reads["availability (one site-day)"]
    week = reads["availability (a week, from/to)"]
    keyed = reads["GET /api/v1/appointments/{id}"]
    section = "6 targets (issue 16)"
    for name, top, bottom, target in (
        ("availability (one site-day) / keyed GET throughput", day, keyed, "availability"),
        ("keyed GET / bare endpoint throughput", keyed, bare, "keyed_get"),
        ("booking PUT / keyed GET throughput (all rules)", puts, keyed, "put"),
    ):
        share = top.per_second / bottom.per_second if bottom.per_second else 0.0
        results.add(section, name, f"{share:.0%}", TARGETS[target][1], share >= TARGETS[target][0])
    ratio = week.p50_ms / day.p50_ms if day.p50_ms else float("nan")
    results.add(section, "week availability latency / one-day availability latency (p50)",
                f"{ratio:.2f}", TARGETS["week"][1], ratio <= TARGETS["week"][0],
                note=f"p99 {week.p99_ms:.1f} / {day.p99_ms:.1f} ms")  # fmt: skip
    limit, label = TARGETS["p99_ms"]
    for name, result in (("availability", day), ("PUT", puts), ("keyed GET", keyed)):
        results.add(section, f"p99 of {name} at concurrency {CONNECTIONS}",
                    f"{result.p99_ms:.1f} ms", label, result.p99_ms < limit)  # fmt: skip


def _report(results: Results, name: str, result: WrkResult, section: str = "3 API reads") -> None:
    results.add(
        section, name, f"{result.per_second:.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms",
        note=f"{result.requests:,} requests, {result.non_2xx} non-2xx, {result.socket_errors} socket errors",
    )  # fmt: skip


OVERBOOKED_ROOMS = """
    SELECT count(*) FROM (
      SELECT a.id FROM appointment a
      JOIN appointment b ON b.room_id = a.room_id AND b.status <> 'cancelled'
           AND b.starts_at < a.ends_at AND b.ends_at > a.starts_at
      JOIN room r ON r.id = a.room_id
      WHERE a.external_id LIKE 'BENCH-%' AND a.status <> 'cancelled'
      GROUP BY a.id, r.capacity HAVING count(*) > r.capacity) AS x"""
DOUBLE_BOOKED_CLINICIANS = """
    SELECT count(DISTINCT a.staff_id) FROM appointment a
    JOIN appointment b ON b.staff_id = a.staff_id AND b.id <> a.id AND b.status <> 'cancelled'
         AND b.starts_at < a.ends_at AND b.ends_at > a.starts_at
    WHERE a.external_id LIKE 'BENCH-%' AND a.status <> 'cancelled'"""


def _count_bookings(results: Results, engine: sa.Engine) -> None:
    """After the PUT run: no room over its chairs, no clinician in two appointments at once."""
    with engine.connect() as conn:
        booked = conn.scalar(
            sa.text("SELECT count(*) FROM appointment WHERE external_id LIKE 'BENCH-%'")
        )
        overbooked = conn.scalar(sa.text(OVERBOOKED_ROOMS))
        double = conn.scalar(sa.text(DOUBLE_BOOKED_CLINICIANS))
    results.add("4 booking", "bookings stored / overbooked rooms / double-booked clinicians",
                f"{booked:,} / {overbooked} / {double}", "0 / 0",
                overbooked == 0 and double == 0)  # fmt: skip
