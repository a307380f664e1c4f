"""The benchmark runner (``make bench``): every figure side by side in one run, one table, RESULTS.md.

    python -m benchmarks.run [--skip-10m] [--regenerate] [--week 2026-W10] [--duration 15]

It loads the chain into ``opsadmin_bench`` (and, unless ``--skip-10m``, the ten-year history into
``opsadmin_bench_10m``) when they are missing, then measures: (1) the weekly utilisation build
against a single-aggregate floor, (2) that build at 2 M and at 10 M appointments, (3) API reads
under gunicorn against a bare endpoint, (4) concurrent booking PUTs, (5) console list pages,
(6) the issue-16 ratios of (3) and (4), (7) course options, at-risk judging, the events feed and
the forecast beside their floors.
Targets are reported as measured, met or not. Everything runs against 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from benchmarks import console_bench, generate, http_bench, reports_bench, wave_bench
from benchmarks.common import Results

HERE = Path(__file__).resolve().parent
RESULTS_FILE = HERE / "RESULTS.md"
DEFAULT_10M_URL = "postgresql://postgres@127.0.0.1/opsadmin_bench_10m"
SECTIONS = ("reports", "http", "wave", "console")
# Other work on the machine skews every figure: the run records how busy the machine was.
LOAD_AT_START = os.getloadavg()[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--database-url", default=generate.DEFAULT_URL)
    parser.add_argument("--database-url-10m", default=DEFAULT_10M_URL)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="main database scale (0.01: smoke)"
    )
    parser.add_argument("--skip-10m", action="store_true", help="no 10 M database (quick run)")
    parser.add_argument("--regenerate", action="store_true", help="reload the data even if present")
    parser.add_argument("--week", default="2026-W10", help="the ISO week the report is built for")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (median kept)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk load")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help="comma list of " + ", ".join(SECTIONS)
    )
    parser.add_argument("--output", default=str(RESULTS_FILE))
    return parser.parse_args(argv)


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(generate.sqlalchemy_url(url))


def loaded_rows(url: str) -> int:
    """The appointment table's row estimate, 0 when the database or the table is missing."""
    try:
        engine = engine_for(url)
        with engine.connect() as conn:
            rows = conn.scalar(
                sa.text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'appointment'")
            )
        engine.dispose()
        return int(rows or 0)
    except sa.exc.OperationalError:
        return 0


def ensure_data(url: str, scale: float, regenerate: bool, results: Results) -> None:
    expected = generate.BASE_APPOINTMENTS * scale
    load = generate.last_load(url)
    if regenerate or load is None or loaded_rows(url) < 0.99 * expected:
        generate.generate(url, scale)
        load = generate.last_load(url)
        when = "in this run"
    else:
        loaded = f" {load[3]:%Y-%m-%d %H:%M} UTC" if load[3] else ""
        when = f"reused: timed by an earlier `benchmarks.generate`{loaded}"
    _scale, seconds, counts, _at = load
    results.add("0 data load", f"generate --scale {scale:g}", f"{seconds:.0f} s",
                note=f"{counts['appointment']:,} appointments, {counts['referral']:,} referrals, "
                     f"{counts['audit_event']:,} audit events ({when})")  # fmt: skip


# -- machine facts ---------------------------------------------------------------------------------
def machine_facts(url: str) -> dict[str, str]:
    engine = engine_for(url)
    with engine.connect() as conn:
        version = conn.scalar(sa.text("SELECT version()"))
        settings = {
            name: conn.scalar(sa.text(f"SHOW {name}"))
            for name in ("shared_buffers", "work_mem", "max_connections")
        }
    engine.dispose()
    return {
        "date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": _command(["git", "rev-parse", "--short", "HEAD"]),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "PostgreSQL": version.split(",")[0],
        "PostgreSQL settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
        "Python": sys.version.split()[0],
        "gunicorn workers": http_bench.server_description(),
        "load generator": _command(["wrk", "-v"]).splitlines()[0]
        if shutil.which("wrk")
        else "none",
        # Other work on the machine (test suites) takes CPU from the servers being measured.
        "load average (1 min) at start → end": f"{LOAD_AT_START:.2f} → {os.getloadavg()[0]:.2f}",
    }


def _command(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=HERE)
    except OSError:
        return "?"
    return (done.stdout or done.stderr).strip() or "?"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "?"


# -- output ----------------------------------------------------------------------------------------
def table(results: Results) -> list[str]:
    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    lines = [row(("section", "measure", "value", "target", "verdict", "note")), "|---" * 6 + "|"]
    for f in results.figures:
        lines.append(row((f.section, f.name, f.value, f.target, f.verdict, f.note)))
    return lines


def print_table(results: Results) -> None:
    widths = [22, 52, 44, 18, 8]
    print()
    for figure in results.figures:
        cells = (figure.section, figure.name, figure.value, figure.target, figure.verdict)
        print("  ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths, strict=True)))
    for note in results.notes:
        print(f"note: {note}")


def write_markdown(path: Path, results: Results, facts: dict[str, str], argv: list[str]) -> None:
    command = " ".join(["python -m benchmarks.run", *argv]).strip()
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks.run` (`make bench`); every figure below comes from one run.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in facts.items()],
        "",
        "## Reproduce",
        "",
        "```",
        "apt-get install -y wrk                     # the load generator (Debian)",
        "make bench BENCH_ARGS='" + " ".join(argv) + "'   # = " + command,
        "# data only: python -m benchmarks.generate --scale 1",
        "#            python -m benchmarks.generate --scale 5 "
        "--database-url postgresql://postgres@127.0.0.1/opsadmin_bench_10m",
        "```",
        "",
        "## Figures",
        "",
        *table(results),
        "",
        "## EXPLAIN summaries (EXPLAIN ANALYZE of the slowest statement of each measured path)",
        "",
        *[f"- **{what}**: `{plan}`" for what, plan in results.explains],
        "",
        "## Notes",
        "",
        *[f"- {note}" for note in results.notes],
        "",
    ]
    path.write_text("\n".join(lines))


# -- the run ---------------------------------------------------------------------------------------
def run(args: argparse.Namespace, argv: list[str]) -> Results:
    import opsadmin.models  # noqa: F401  (every table mapped before the first session)
    from opsadmin.reports.weeks import parse_week

    results = Results()
    sections = set(args.only.split(","))
    print("Data")
    ensure_data(args.database_url, args.scale, args.regenerate, results)
    main_label = f"{2 * args.scale:g} M"
    engines = {main_label: engine_for(args.database_url)}
    if not args.skip_10m and sections & {"reports", "wave"}:
        ensure_data(args.database_url_10m, 5 * args.scale, args.regenerate, results)
        engines[f"{10 * args.scale:g} M"] = engine_for(args.database_url_10m)
    else:
        results.notes.append(
            "10 M database skipped (--skip-10m): figure 2 not measured in this run."
        )
    week_monday = parse_week(args.week)
    steps = {
        "reports": lambda: reports_bench.measure(results, engines, args.week, args.repeat),
        "http": lambda: http_bench.measure(
            results, engines[main_label], args.database_url, week_monday, args.duration
        ),
        "wave": lambda: wave_bench.measure(results, engines, args.week, args.repeat),
        "console": lambda: _console(results, args.database_url),
    }
    for name in SECTIONS:
        if name in sections:
            print(f"[{name}]")
            _guarded(results, name, steps[name])
    return results


def _console(results: Results, url: str) -> None:
    with tempfile.TemporaryDirectory() as instance:
        console_bench.measure(results, generate.sqlalchemy_url(url), instance)


def _guarded(results: Results, name: str, action) -> None:
    """Run one section; a failure is reported in RESULTS.md, and the other sections still run."""
    try:
        action()
    except Exception as error:  # a benchmark run reports a broken feature rather than stopping
        results.notes.append(f"section {name} failed: {type(error).__name__}: {error}")
        print(f"  {name} failed: {error!r}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    results = run(args, argv)
    print_table(results)
    facts = machine_facts(args.database_url)
    write_markdown(Path(args.output), results, facts, argv)
    print(f"\nWrote {args.output}")


if __name__ == "__main__":
    main()
