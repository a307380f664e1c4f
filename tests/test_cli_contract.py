"""The published command line (DESIGN "Command line"), through the real console script.

Every command runs as a subprocess of ``.venv/bin/opsadmin`` against a temporary SQLite file
(DATABASE_URL) with SECRET_KEY set and no REDIS_URL (jobs in-process, e-mail to the outbox), so
what an administrator types is what is tested. One database is migrated and seeded for the
module; each call is bounded by a timeout.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

OPSADMIN = Path(sys.executable).with_name("opsadmin")
FLASK = Path(sys.executable).with_name("flask")
TIMEOUT = 120
PASSWORD = "a long enough pass phrase 42"

pytestmark = pytest.mark.skipif(
    not OPSADMIN.exists(), reason="the opsadmin script is not installed"
)


def environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSADMIN_", "SMTP_"))}
    env.pop("REDIS_URL", None)
    env.pop("FLASK_APP", None)
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}",
        "SECRET_KEY": "cli-contract-secret",
        "OPSADMIN_INSTANCE_DIR": str(tmp / "instance"),
    }
    return env


def opsadmin(env: dict[str, str], *args: str, stdin: str | None = None, script: Path = OPSADMIN):
    result = subprocess.run(
        [str(script), *args],
        env=env,
        cwd=env["OPSADMIN_INSTANCE_DIR"].rsplit("/", 1)[0],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return result


def ok(result) -> str:
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def last_week() -> str:
    year, week, _ = (dt.date.today() - dt.timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def scalar(env: dict[str, str], sql: str, **params):
    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A database migrated with `opsadmin db upgrade` and seeded with `opsadmin seed-demo`."""
    env = environment(tmp_path_factory.mktemp("cli"))
    ok(opsadmin(env, "db", "upgrade"))
    ok(opsadmin(env, "seed-demo"))
    return env


def test_db_upgrade_leaves_nothing_for_db_check(env):
    assert "No new upgrade operations detected" in ok(opsadmin(env, "db", "check"))


def test_flask_app_opsadmin_works_too(env):
    assert "No new upgrade operations detected" in ok(
        opsadmin(env, "--app", "opsadmin", "db", "check", script=FLASK)
    )


def test_seed_demo_is_idempotent(env):
    before = scalar(env, "SELECT count(*) FROM appointment")
    ok(opsadmin(env, "seed-demo"))
    assert scalar(env, "SELECT count(*) FROM appointment") == before > 0


def test_users_create_reads_the_password_from_stdin_with_regions(env):
    result = opsadmin(
        env,
        "users", "create", "lead.cli@example.org", "--role", "regional_lead",
        "--region", "IN", "--region", "IL", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    ok(result)
    assert scalar(env, "SELECT role FROM user_account WHERE email = 'lead.cli@example.org'") == (
        "regional_lead"
    )
    regions = scalar(
        env,
        "SELECT count(*) FROM user_region JOIN user_account u ON u.id = user_region.user_id"
        " WHERE u.email = 'lead.cli@example.org'",
    )
    assert regions == 2


def test_users_create_prompts_for_the_password(env):
    result = opsadmin(
        env, "users", "create", "admin.cli@example.org", "--role", "admin",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    ok(result)
    assert (
        scalar(env, "SELECT role FROM user_account WHERE email = 'admin.cli@example.org'")
        == "admin"
    )


def test_users_create_makes_an_ops_manager_without_a_region(env):
    email = "ops.cli@example.org"
    ok(opsadmin(env, "users", "create", email, "--role", "ops_manager", "--password-stdin",
                stdin=PASSWORD))  # fmt: skip
    assert scalar(env, "SELECT role FROM user_account WHERE email = :e", e=email) == "ops_manager"


def test_users_create_refuses_an_unknown_role(env):
    result = opsadmin(env, "users", "create", "x@example.org", "--role", "root", "--password-stdin")
    assert result.returncode != 0


def test_api_keys_create_prints_the_key_alone_on_its_last_line_and_it_opens_the_api(env):
    from opsadmin.app import create_app

    result = opsadmin(env, "api-keys", "create", "booking", "--scopes", "read,write,admin")
    key = ok(result).rstrip("\n").splitlines()[-1]

    assert key == key.strip() and " " not in key and len(key) >= 32
    stored = scalar(env, "SELECT scopes FROM api_key WHERE name = 'booking'")
    assert all(scope in stored for scope in ("read", "write", "admin"))
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": "x"}
    )
    response = app.test_client().get("/api/v1/regions", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert [r["code"] for r in response.get_json()] == ["IL", "IN"]


@pytest.mark.parametrize("kind", ["utilisation", "followup"])
def test_reports_run_prints_the_report(env, kind):
    sent = scalar(env, "SELECT count(*) FROM report_delivery")
    output = ok(opsadmin(env, "reports", "run", kind, "--region", "IN", "--week", last_week()))
    assert len(output.strip().splitlines()) > 3
    assert scalar(env, "SELECT count(*) FROM report_delivery") == sent  # printed, not sent


def test_reports_run_send_never_sends_twice(env):
    args = ("reports", "run", "utilisation", "--region", "IL", "--week", last_week(), "--send")
    first = ok(opsadmin(env, *args))
    second = ok(opsadmin(env, *args))
    assert "sent to 1 recipient(s)" in first
    assert "sent to 0 recipient(s)" in second


def test_reports_run_refuses_a_bad_week_cleanly(env):
    result = opsadmin(env, "reports", "run", "utilisation", "--region", "IN", "--week", "2026-49")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_migrates_seeds_and_serves(tmp_path):
    env = environment(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [str(OPSADMIN), "demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert status == 200
        assert scalar(env, "SELECT count(*) FROM appointment") > 0
        assert scalar(env, "SELECT count(*) FROM user_account") >= 3
    finally:
        process.terminate()
        output = process.communicate(timeout=TIMEOUT)[0]
    assert f"http://127.0.0.1:{port}/admin/" in output


def wait_for(url: str, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0][-2000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {TIMEOUT} s")


def test_users_create_refuses_an_address_that_is_not_an_email(env):
    result = opsadmin(
        env, "users", "create", "notanemail", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert result.returncode == 2 and "is not a valid e-mail address" in result.stderr
    assert scalar(env, "SELECT count(*) FROM user_account WHERE email = 'notanemail'") == 0


def test_users_reset_totp_forgets_the_authenticator_and_is_audited(env):
    email = "reset.cli@example.org"
    ok(opsadmin(env, "users", "create", email, "--role", "admin", "--password-stdin",
                stdin=PASSWORD))  # fmt: skip
    assert email in ok(opsadmin(env, "users", "reset-totp", email))
    assert scalar(env, "SELECT totp_enrol_required FROM user_account WHERE email = :e", e=email)
    assert scalar(env, "SELECT count(*) FROM audit_event WHERE action = 'reset_totp'") == 1
