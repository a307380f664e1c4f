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


def _redact(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True) if url else url


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = _redact(os.environ.get("DATABASE_URL", "")) or "SQLite (embedded, temporary file)"
    redis = (
        os.environ.get("REDIS_URL") or "none (jobs in-process; fakeredis where a test needs one)"
    )
    return [f"opsadmin database: {database}", f"opsadmin redis: {redis}"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """With OPSADMIN_REQUIRE_SERVICES set (CI), PostgreSQL and Redis must answer: no silent skips."""
    if not os.environ.get("OPSADMIN_REQUIRE_SERVICES"):
        return
    if not POSTGRES or not REAL_REDIS:
        raise pytest.UsageError(
            "OPSADMIN_REQUIRE_SERVICES needs DATABASE_URL (PostgreSQL) and REDIS_URL"
        )
    import redis

    engine = sa.create_engine(
        sa.engine.make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
    except Exception as error:  # any failure means the services are not there
        raise pytest.UsageError(f"required services unreachable: {error}") from error
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "ENV": "test"})
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        _seed_reference_data()
    yield url


def _empty_tables() -> None:
    # DELETE, children first: on tables this small it is far quicker than TRUNCATE, which
    # takes catalog locks and rewrites every table (about a second a test on PostgreSQL).
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    _seed_reference_data()


def _seed_reference_data() -> None:
    """What the migration seeds and every database has: the site rules by state."""
    from opsadmin.locations.licensing import default_site_rules
    from opsadmin.locations.models import SiteRule
    from opsadmin.validation import US_STATES

    rows = [{"state": s, "registration_kind": k} for s, k in default_site_rules(US_STATES)]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(SiteRule), rows)


# Building the app (≈170 URL rules compiled by werkzeug) costs ~0.3 s; tests with the same
# configuration share one app. Its configuration is restored before every test, so a test
# that changes app.config changes it for itself only.
_APPS: dict[str, tuple] = {}
_PER_TEST_KEYS = ("INSTANCE_DIR", "OPSADMIN_OUTBOX_DIR")


def _app_for(config: dict):
    key = repr(sorted((k, repr(v)) for k, v in config.items() if k not in _PER_TEST_KEYS))
    if key not in _APPS:
        built = create_app(config)
        _APPS[key] = (built, dict(built.config))
    built, snapshot = _APPS[key]
    built.config.clear()
    built.config.update(snapshot)
    built.config["INSTANCE_DIR"] = config["INSTANCE_DIR"]
    built.config["OPSADMIN_OUTBOX_DIR"] = config.get(
        "OPSADMIN_OUTBOX_DIR", str(Path(config["INSTANCE_DIR"]) / "outbox")
    )
    return built


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
def app(app_config: dict, request: pytest.FixtureRequest) -> Iterator:
    # A test that adds routes or views to the app needs one of its own (mark it fresh_app).
    fresh = request.node.get_closest_marker("fresh_app") is not None
    app = create_app(app_config) if fresh else _app_for(app_config)
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
    """Signs a user in through the real login page (and its TOTP step, when one follows)."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        """The CSRF token of a console form page (works whether CSRF is on or off)."""
        import re

        match = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get(path).text)
        return match.group(1) if match else ""

    def login(self, user, password: str | None = None, *, totp: bool = True, next: str = ""):
        """Post e-mail and password; when the answer is the TOTP step (or its enrolment), pass
        it too unless ``totp=False``. Returns the last response."""
        from tests.factories import PASSWORD

        url = "/login" + (f"?next={next}" if next else "")
        response = self.client.post(
            url,
            data={
                "email": user.email,
                "password": password or PASSWORD,
                "csrf_token": self.csrf_token(),
            },
        )
        location = response.headers.get("Location", "")
        if totp and response.status_code == 303 and "/login/totp" in location:
            response = self.pass_totp(user, location)
        return response

    def pass_totp(self, user, step_url: str):
        """Enter a fresh code on the TOTP (or enrolment) page, reading the secret from the DB."""
        page = self.client.get(step_url)  # the enrolment page creates the secret
        assert page.status_code == 200, page.status_code
        return self.client.post(
            step_url, data={"code": totp_code(user.id), "csrf_token": self.csrf_token(step_url)}
        )

    def logout(self):
        # Signed in, /login redirects; the console's pages carry the sign-out form and its token.
        token = self.csrf_token("/admin/") or self.csrf_token("/login")
        return self.client.post("/logout", data={"csrf_token": token})


def totp_code(user_id: int) -> str:
    """A code the server will accept now for this user (a step later than the last one used)."""
    import pyotp

    from opsadmin.auth import sessions
    from opsadmin.auth.models import User

    with db.engine.connect() as conn:  # a fresh connection: the test's session may be stale
        secret, last_step = conn.execute(
            sa.select(User.totp_secret, User.totp_last_step).where(User.id == user_id)
        ).one()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(sessions.now())
    if last_step is not None and step <= last_step:
        step = last_step + 1
    return totp.generate_otp(step)


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
