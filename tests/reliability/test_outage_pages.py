"""The console's own outage answers (issue 11, problem 5): a styled 503 page, never a trace.

The database here is a PostgreSQL address nobody listens on (refused at once), so this runs in
every CI stage; tests/reliability/test_faults.py drops and blackholes a real server.
"""

from __future__ import annotations

import socket

import pytest

from opsadmin.app import create_app
from tests.factories import UserFactory


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable(app_config, app):
    return create_app(
        {
            **app_config,
            "SQLALCHEMY_DATABASE_URI": f"postgresql://nobody@127.0.0.1:{closed_port()}/none",
            "REDIS_URL": None,
        }
    )


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/admin/"), ("GET", "/admin/referrals/"), ("POST", "/login")],
)
def test_console_answers_a_styled_503_page_while_the_database_is_down(
    unreachable, client, auth, session, method, path
):
    auth.login(UserFactory(role="admin"))  # signed in while the database answered
    signed_in = unreachable.test_client()
    cookie = client.get_cookie(unreachable.config["SESSION_COOKIE_NAME"])
    signed_in.set_cookie(cookie.key, cookie.value)
    client = signed_in
    response = client.open(path, method=method, data={"email": "a@b.org", "password": "x" * 12})
    text = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.mimetype == "text/html" and "Temporarily unavailable" in text
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in text and "psycopg" not in text and "127.0.0.1" not in text
    assert response.headers["Cache-Control"] == "no-store"
