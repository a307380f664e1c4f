"""Behind trusted reverse proxies the per-IP login limit sees the real client (issue 11, problem 9).

The proxy connects from one address; X-Forwarded-For names the client. With
OPSADMIN_TRUSTED_PROXIES=1 ten failures from one client lock that client only; without it the
header is ignored (anyone could send it), so the limit applies to the connecting address.
"""

from __future__ import annotations

from opsadmin.extensions import db
from tests.factories import PASSWORD, UserFactory

PROXY = {"REMOTE_ADDR": "10.0.0.2"}


def attempt(client, email: str, password: str, client_ip: str):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": client_ip},
        environ_base=PROXY,
    )


def fail_ten_times_from(client, client_ip: str) -> None:
    for n in range(10):
        assert attempt(client, f"nobody{n}@example.org", "wrong", client_ip).status_code == 200


def test_ten_failures_lock_the_client_not_everyone_behind_the_proxy(app, app_config):
    from opsadmin.app import create_app

    proxied = create_app({**app_config, "OPSADMIN_TRUSTED_PROXIES": 1})
    client = proxied.test_client()
    with proxied.app_context():
        user = UserFactory(role="admin")
        db.session.commit()
        email = user.email
        fail_ten_times_from(client, "203.0.113.5")
        assert attempt(client, email, PASSWORD, "203.0.113.5").status_code == 429
        assert attempt(client, email, PASSWORD, "198.51.100.7").status_code == 303
        db.session.remove()
        db.engine.dispose()


def test_without_trusted_proxies_the_forwarded_header_is_ignored(client, session):
    user = UserFactory(role="admin")
    session.commit()
    fail_ten_times_from(client, "203.0.113.5")
    assert attempt(client, user.email, PASSWORD, "198.51.100.7").status_code == 429
