"""`opsadmin demo` without serving: it migrates, seeds, creates the logins and prints them.

These tests build their own app on a fresh SQLite file (the demo migrates it with Alembic, which
needs a database the shared fixtures have not created tables in).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsadmin import models as m
from opsadmin.app import create_app
from opsadmin.auth.passwords import verify_password
from opsadmin.extensions import db


def _demo_app(tmp_path: Path, database_uri: str | None = None):
    return create_app(
        {
            "TESTING": True,
            "ENV": "development",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_uri or f"sqlite:///{tmp_path / 'demo.db'}",
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": None,
        }
    )


def _passwords(output: str) -> dict[str, str]:
    """{e-mail: password} from the printed logins (lines "  email  role  password ...")."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"\s+(\S+@example\.org)\s+(\w+)\s+(\S+)", line)
        if match and not match.group(3).startswith("("):
            found[match.group(1)] = match.group(3)
    return found


def _password_ok(app, email: str, password: str) -> bool:
    with app.app_context():
        user = db.session.scalar(sa.select(m.User).where(m.User.email == email))
        return verify_password(user.password_hash, password)


def _counts(app) -> dict[str, int]:
    with app.app_context():
        counts = {
            name: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for name, model in (
                ("appointments", m.Appointment),
                ("users", m.User),
                ("report_runs", m.ReportRun),
            )
        }
        db.session.remove()
        return counts


@pytest.fixture
def demo_app(tmp_path):
    app = _demo_app(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_demo_refuses_a_postgresql_database_without_yes(tmp_path):
    app = _demo_app(tmp_path, "postgresql://demo@127.0.0.1:1/production")
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code != 0
    assert "not SQLite" in result.output and "--yes" in result.output


def test_demo_prepares_the_database_and_prints_the_logins(demo_app):
    result = demo_app.test_cli_runner().invoke(args=["demo", "--no-serve", "--port", "5055"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "http://127.0.0.1:5055/admin/" in output
    assert "Ctrl-C" in output and "outbox" in output and "authenticator app" in output
    passwords = _passwords(output)
    assert set(passwords) == {"admin@example.org", "ops@example.org", "lead.illinois@example.org"}
    assert all(_password_ok(demo_app, email, pw) for email, pw in passwords.items())
    assert "opk_" in output  # the demo booking system's API key, shown once
    counts = _counts(demo_app)
    assert counts["appointments"] > 2000
    assert counts["report_runs"] > 0  # last week's reports, dispatched in-process


def test_demo_run_again_reuses_the_data_and_says_how_to_reset(demo_app):
    runner = demo_app.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    before = _counts(demo_app)
    again = runner.invoke(args=["demo", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert _counts(demo_app) == before
    assert "nothing added" in again.output
    assert _passwords(again.output) == {}
    assert "--reset-admin-password" in again.output
    assert "opsadmin users create" in again.output

    reset = runner.invoke(args=["demo", "--no-serve", "--reset-admin-password"])
    assert reset.exit_code == 0, reset.output
    new = _passwords(reset.output)["admin@example.org"]
    assert new != _passwords(first.output)["admin@example.org"]
    assert _password_ok(demo_app, "admin@example.org", new)
