"""Fault injection (issue 11, acceptance 2): PostgreSQL and Redis refused, dropped, blackholed.

A forwarder (tests/reliability/forwarder.py) sits between an app with the default timeouts and
the real servers. With the database faulty, the API answers 503 problem+json and the console its
styled 503 page, both with Retry-After and within 10 s; with Redis blackholed the API serves
(rate limits fail open) and only the first request pays Redis's timeout; every case recovers
once the fault ends, with the same app (no restart). Runs in CI's PostgreSQL stage.
"""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from opsadmin.app import create_app
from opsadmin.auth.service import create_api_key
from opsadmin.extensions import db
from tests.conftest import POSTGRES, REAL_REDIS, Auth
from tests.factories import PASSWORD, RegionFactory, UserFactory
from tests.reliability.forwarder import Forwarder

pytestmark = pytest.mark.skipif(
    not POSTGRES, reason="fault injection needs PostgreSQL (DATABASE_URL)"
)
BOUND_SECONDS = 10  # the acceptance bound; the defaults answer in about 6 s


@pytest.fixture
def database_forwarder(app):
    url = sa.engine.make_url(os.environ["DATABASE_URL"])
    forwarder = Forwarder(url.host or "127.0.0.1", url.port or 5432).start()
    yield forwarder
    forwarder.stop()


def app_through(app_config: dict, **overrides) -> object:
    """An app with the default timeouts (not the tests' shared one), built per fault."""
    return create_app({**app_config, **overrides})


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_api_unavailable(response, seconds: float) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert seconds < BOUND_SECONDS, seconds


def assert_console_unavailable(response, seconds: float) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code == 503, text[:300]
    assert response.mimetype == "text/html" and "Temporarily unavailable" in text
    assert "Traceback" not in text and "psycopg" not in text
    assert int(response.headers["Retry-After"]) > 0
    assert seconds < BOUND_SECONDS, seconds


@pytest.mark.parametrize("mode", ["refuse", "drop", "blackhole"])
def test_database_fault_answers_503_everywhere_then_recovers(
    app, app_config, database_forwarder, mode
):
    url = sa.engine.make_url(os.environ["DATABASE_URL"]).set(
        host="127.0.0.1", port=database_forwarder.port
    )
    faulty = app_through(
        app_config, SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False)
    )
    user = UserFactory(role="admin")
    RegionFactory(code="IN")
    _, key = create_api_key(db.session, "faults", ["read"])
    db.session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    api, console = faulty.test_client(), faulty.test_client()
    Auth(console).login(user)
    assert console.get("/admin/").status_code == 200
    assert api.get("/api/v1/regions", headers=headers).status_code == 200  # pooled connections

    database_forwarder.set_mode(mode)
    assert_api_unavailable(*timed(lambda: api.get("/api/v1/regions", headers=headers)))
    assert_console_unavailable(*timed(lambda: console.get("/admin/referrals/")))
    if mode != "blackhole":  # the same path as above; kept out of the slow case to bound time
        assert_console_unavailable(*timed(lambda: console.get("/admin/")))
    login = lambda: faulty.test_client().post(  # noqa: E731
        "/login", data={"email": user.email, "password": PASSWORD}
    )
    assert_console_unavailable(*timed(login))

    database_forwarder.set_mode("pass")
    assert api.get("/api/v1/regions", headers=headers).status_code == 200
    assert console.get("/admin/").status_code == 200
    with faulty.app_context():
        db.engine.dispose()


@pytest.mark.skipif(not REAL_REDIS, reason="needs Redis (REDIS_URL)")
def test_blackholed_redis_costs_the_api_one_timeout_then_nothing_and_recovers(app, app_config):
    url = sa.engine.make_url(os.environ["REDIS_URL"].replace("redis://", "postgresql://", 1))
    forwarder = Forwarder(url.host or "127.0.0.1", url.port or 6379).start()
    database = url.database or "0"
    try:
        faulty = app_through(
            app_config,
            REDIS_URL=f"redis://127.0.0.1:{forwarder.port}/{database}",
            RATELIMIT_ENABLED=True,
            OPSADMIN_API_RATE_LIMIT="3 per minute",
            OPSADMIN_REDIS_RETRY_SECONDS=1,
        )
        RegionFactory(code="IN")
        _, key = create_api_key(db.session, "faults-redis", ["read"])
        db.session.commit()
        headers = {"Authorization": f"Bearer {key}"}
        client = faulty.test_client()
        forwarder.set_mode("blackhole")
        first, first_seconds = timed(lambda: client.get("/api/v1/regions", headers=headers))
        assert first.status_code == 200 and first_seconds < 1 + 2  # the Redis timeout, once
        for _ in range(5):  # over the limit, uncounted: the limiter fails open
            response, seconds = timed(lambda: client.get("/api/v1/regions", headers=headers))
            assert response.status_code == 200 and seconds < 0.5
        forwarder.set_mode("pass")
        time.sleep(1.1)  # OPSADMIN_REDIS_RETRY_SECONDS
        statuses = [client.get("/api/v1/regions", headers=headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]  # counting again
        with faulty.app_context():
            db.engine.dispose()
    finally:
        forwarder.stop()


def test_a_statement_on_a_connection_gone_silent_ends_after_the_statement_timeout(
    app, app_config, database_forwarder
):
    url = sa.engine.make_url(os.environ["DATABASE_URL"]).set(
        host="127.0.0.1", port=database_forwarder.port
    )
    faulty = app_through(
        app_config,
        SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False),
        OPSADMIN_DB_STATEMENT_TIMEOUT=1,
    )
    with faulty.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1s"
            database_forwarder.set_mode("blackhole")
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError):
                conn.exec_driver_sql("SELECT 1")
            assert time.monotonic() - started < 1 + 1 + 1  # timeout + margin + a poll
            conn.rollback()
        database_forwarder.set_mode("pass")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        db.engine.dispose()


def test_workers_and_the_command_line_get_the_job_statement_timeout(app_config):
    background = create_app({**app_config, "OPSADMIN_BACKGROUND": True})
    with background.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "5min"
        db.engine.dispose()
