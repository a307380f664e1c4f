"""The app factory, configuration and the migration's agreement with the models."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsadmin.app import create_app
from opsadmin.config import load_config
from opsadmin.staff.service import DEFAULT_RULES

ROOT = Path(__file__).resolve().parent.parent


def test_two_apps_can_be_built_in_one_process(app_config):
    first = create_app(app_config)
    second = create_app(app_config)
    assert first is not second


def test_secret_key_required_outside_development(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config({"ENV": "production", "INSTANCE_DIR": str(tmp_path)}, environ={})


def test_database_url_from_environment_speaks_psycopg3(tmp_path):
    config = load_config(
        {"INSTANCE_DIR": str(tmp_path)},
        environ={"DATABASE_URL": "postgres://u@h/db", "SECRET_KEY": "k"},
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def _scratch_database(tmp_path: Path) -> tuple[str, callable]:
    """A fresh, empty database of the kind the suite runs on; returns its URL and a dropper."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'migrated.db'}", lambda: None
    name = f"opsadmin_migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        sa.engine.make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    scratch = sa.engine.make_url(url).set(drivername="postgresql+psycopg", database=name)
    return scratch.render_as_string(hide_password=False), drop


def test_migrations_upgrade_then_check_reports_no_drift_and_seed_the_default_rules(tmp_path):
    url, drop = _scratch_database(tmp_path)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "migration-check"}
    env.pop("REDIS_URL", None)
    opsadmin = [sys.executable, "-m", "flask", "--app", "opsadmin"]
    try:
        upgrade = subprocess.run(
            [*opsadmin, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert upgrade.returncode == 0, upgrade.stderr
        check = subprocess.run(
            [*opsadmin, "db", "check"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
        assert "No new upgrade operations detected" in check.stdout + check.stderr
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            seeded = set(
                conn.execute(
                    sa.text("SELECT role, appointment_kind, credential_kind FROM credential_rule")
                ).all()
            )
        engine.dispose()
        assert seeded == set(DEFAULT_RULES)
    finally:
        drop()
