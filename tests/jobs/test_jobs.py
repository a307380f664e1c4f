"""Queues: in-process without REDIS_URL, the rq cron schedule, worker.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsadmin.jobs import QUEUES, enqueue, is_inline

ROOT = Path(__file__).resolve().parents[2]


def test_queue_names():
    assert QUEUES == ("reports", "email", "webhooks", "default")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": None}


def test_without_redis_jobs_run_in_process_and_failures_are_logged(app, caplog):
    calls = []
    assert is_inline()
    assert enqueue("default", calls.append, 1) is None
    assert calls == [1]

    def boom() -> None:
        raise RuntimeError("boom")

    enqueue("default", boom)
    assert "boom" in caplog.text


def test_schedule_registers_the_hourly_dispatcher_and_the_daily_credential_job():
    from rq import cron

    cron._job_data_registry.clear()
    import importlib

    import opsadmin.jobs.schedule as schedule

    importlib.reload(schedule)
    registered = {(d["func"].__name__, d["cron"]) for d in cron._job_data_registry}
    cron._job_data_registry.clear()
    assert registered == {
        ("dispatch_reports", "5 * * * *"),
        ("notify_credential_expiry", "30 6 * * *"),
        ("sweep_webhooks", "* * * * *"),
        ("check_bookings_at_risk", "45 6 * * *"),
    }


def test_worker_refuses_to_start_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(SECRET_KEY="x", OPSADMIN_INSTANCE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.db'}"
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr
