"""Shared fixtures: an app on SQLite (default) or on the PostgreSQL/Redis that DATABASE_URL/REDIS_URL name.

The schema is created once per test session; every test gets a fresh app and leaves empty tables
behind it, so tests may commit (concurrency tests must) without leaking into each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import opsadmin.models  # noqa: F401
from opsadmin.app import create_app
from opsadmin.db import Base
from opsadmin.extensions import db

POSTGRES = bool(os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql")))
REAL_REDIS = bool(os.environ.get("REDIS_URL"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "ENV": "test"})
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
    yield url


def _empty_tables() -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict:
    """Override in a test module (or parametrize) to change the app's configuration."""
    return {
        "TESTING": True,
        "ENV": "test",
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "WTF_CSRF_ENABLED": False,
        "OPSADMIN_REQUIRE_TOTP": False,
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def app(app_config: dict) -> Iterator:
    app = create_app(app_config)
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
        ctx.pop()


@pytest.fixture
def session(app):
    """The request-scoped SQLAlchemy session, as services receive it."""
    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    """Signs a user in through the real login page."""

    def __init__(self, client):
        self.client = client

    def login(self, user, password: str | None = None):
        from tests.factories import PASSWORD

        return self.client.post(
            "/login", data={"email": user.email, "password": password or PASSWORD}
        )

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def api_headers(app):
    """api_headers("read", "write") → request headers carrying a fresh API key with those scopes.

    The key is committed (the API authenticates in its own transaction); call it again for
    another key. ``api_headers.last_key`` is the ApiKey row of the most recent call.
    """
    from opsadmin.auth.service import create_api_key

    def make(*scopes: str, name: str = "test-key") -> dict[str, str]:
        key, plaintext = create_api_key(db.session, name, list(scopes or ("read",)))
        db.session.commit()
        make.last_key = key
        return {"Authorization": f"Bearer {plaintext}"}

    return make
