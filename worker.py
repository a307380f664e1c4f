"""RQ worker and cron process.

    python worker.py [QUEUE ...] [--burst]   a worker (default queues: reports email webhooks default)
    python worker.py cron                    the periodic schedule (one per deployment)

Configuration comes from the environment (REDIS_URL, DATABASE_URL, SMTP_* …), as for the web app.
"""

from __future__ import annotations

import argparse
import sys

from flask import Flask

from opsadmin.jobs import QUEUES, AppJob, bind_worker_app, connection


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("queues", nargs="*", help="queues to listen on, or 'cron'")
    parser.add_argument("--burst", action="store_true", help="quit once the queues are empty")
    parser.add_argument("--no-scheduler", action="store_true", help="do not run retries' scheduler")
    return parser.parse_args(argv)


def run_cron(connection) -> None:
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=connection)
    scheduler.load_config_from_file("opsadmin.jobs.schedule")
    scheduler.start()


def run_worker(connection, queues: list[str], burst: bool, scheduler: bool) -> bool:
    from rq import Worker

    worker = Worker(queues or list(QUEUES), connection=connection, job_class=AppJob)
    return worker.work(burst=burst, with_scheduler=scheduler)


def build_app() -> Flask:
    from opsadmin.app import create_app

    return create_app({"OPSADMIN_BACKGROUND": True})  # the job statement timeout


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    app = bind_worker_app(build_app())  # built once here, inherited by every work horse
    redis_url = app.config.get("REDIS_URL")
    if not redis_url:
        print(
            "REDIS_URL is not set: jobs run in-process, there is nothing to work on.",
            file=sys.stderr,
        )
        return 2
    if args.queues == ["cron"]:
        run_cron(connection(redis_url))
        return 0
    run_worker(connection(redis_url), args.queues, args.burst, not args.no_scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
