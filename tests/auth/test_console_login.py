"""Console login (issue 6 acceptance 3): argon2id, throttling, identical failures, TOTP, next=."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.low_level import Type

from opsadmin.audit.models import AuditEvent
from opsadmin.auth.models import ConsoleSession, LoginFailure, User
from opsadmin.auth.passwords import hash_password
from opsadmin.extensions import db
from tests.conftest import totp_code
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _normalised(html: str) -> str:
    """The page without what differs on every response by design (CSRF token, CSP nonce)."""
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)
    return re.sub(r'nonce="[^"]+"', 'nonce=""', html)


def _post_login(client, auth, email, password, ip="10.0.0.1", next=""):
    token = auth.csrf_token()
    return client.post(
        "/login" + (f"?next={next}" if next else ""),
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_password_hash_is_argon2id_with_rfc9106_parameters():
    encoded = hash_password("a long enough passphrase")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_legacy_hash_is_rehashed_as_argon2id_on_login(client, auth):
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I)
    user = UserFactory(role="ops_manager", password_hash=weak.hash(PASSWORD))
    db.session.commit()
    assert auth.login(user).status_code == 303
    with db.engine.connect() as conn:
        stored = conn.scalar(sa.select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_unknown_user_and_wrong_password_get_the_same_answer(client, auth):
    UserFactory(email="known@ops.example.org")
    db.session.commit()
    started = time.perf_counter()
    wrong = _post_login(client, auth, "known@ops.example.org", "not the password")
    wrong_seconds = time.perf_counter() - started
    started = time.perf_counter()
    unknown = _post_login(client, auth, "nobody@ops.example.org", "not the password")
    unknown_seconds = time.perf_counter() - started
    assert wrong.status_code == unknown.status_code == 200
    assert _normalised(wrong.text) == _normalised(unknown.text)
    assert "Wrong e-mail or password." in wrong.text
    # Both verify an argon2id hash (a dummy one for the unknown user): same order of time.
    assert max(wrong_seconds, unknown_seconds) < 4 * min(wrong_seconds, unknown_seconds)


def test_disabled_user_with_right_password_gets_the_same_answer_as_a_wrong_one(client, auth):
    UserFactory(email="gone@ops.example.org", active=False)
    db.session.commit()
    disabled = _post_login(client, auth, "gone@ops.example.org", PASSWORD)
    unknown = _post_login(client, auth, "nobody@ops.example.org", PASSWORD)
    assert disabled.status_code == 200
    assert _normalised(disabled.text) == _normalised(unknown.text)


def test_eleventh_failure_within_window_is_429_even_with_the_right_password(client, auth):
    UserFactory(email="target@ops.example.org")
    db.session.commit()
    for attempt in range(10):
        ip = f"10.0.1.{attempt}"  # spread over addresses: the account limit alone applies
        assert (
            _post_login(client, auth, "target@ops.example.org", "guess", ip=ip).status_code == 200
        )
    refused = _post_login(client, auth, "target@ops.example.org", PASSWORD, ip="10.0.2.1")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "900"


def test_failures_from_one_address_over_many_accounts_are_throttled(client, auth):
    for n in range(10):
        _post_login(client, auth, f"spray{n}@ops.example.org", "guess", ip="10.9.9.9")
    assert (
        _post_login(client, auth, "other@ops.example.org", "guess", ip="10.9.9.9").status_code
        == 429
    )
    assert (
        _post_login(client, auth, "other@ops.example.org", "guess", ip="10.9.9.8").status_code
        == 200
    )


def test_failures_older_than_the_window_do_not_count(client, auth):
    user = UserFactory(email="old@ops.example.org", role="ops_manager")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    for _ in range(10):
        db.session.add(LoginFailure(email=user.email, ip="10.0.0.1", at=long_ago))
    db.session.commit()
    assert auth.login(user).status_code == 303


def test_failed_and_successful_logins_are_audited_without_the_password(client, auth):
    user = UserFactory(email="audited@ops.example.org", role="ops_manager")
    db.session.commit()
    _post_login(client, auth, user.email, "Secret-Wrong-Guess-1")
    auth.login(user)
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    actions = [e.action for e in events]
    assert "login_failed" in actions and "login" in actions
    failed = next(e for e in events if e.action == "login_failed")
    assert failed.actor_label == user.email and failed.entity_id == str(user.id)
    dump = " ".join(f"{e.detail} {e.changes} {e.actor_label}" for e in events)
    assert "Secret-Wrong-Guess-1" not in dump and PASSWORD not in dump


def test_ops_manager_signs_in_with_password_alone_when_totp_is_not_required(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    response = auth.login(user, totp=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_must_pass_totp_even_when_totp_is_not_required_for_everyone(client, auth, app):
    assert app.config["OPSADMIN_REQUIRE_TOTP"] is False
    admin = UserFactory(role="admin")
    db.session.commit()
    response = auth.login(admin, totp=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/totp/enrol"
    # Past the password but not the second factor: no console page opens.
    home = client.get("/admin/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/login/totp/enrol")


@pytest.mark.parametrize("role", ["ops_manager", "regional_lead"])
def test_with_require_totp_every_console_user_enrols(app, client, auth, role):
    app.config["OPSADMIN_REQUIRE_TOTP"] = True
    user = UserFactory(role=role)
    db.session.commit()
    response = auth.login(user, totp=False)
    assert response.headers["Location"] == "/login/totp/enrol"


def test_enrolment_shows_an_inline_qr_code_and_a_code_completes_sign_in(client, auth):
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin, totp=False)
    page = client.get("/login/totp/enrol")
    assert 'src="data:image/svg+xml' in page.text
    assert "http://" not in page.text.split("<body", 1)[1].replace("http://www.w3.org", "")
    wrong = client.post(
        "/login/totp/enrol",
        data={"code": "000000", "csrf_token": auth.csrf_token("/login/totp/enrol")},
    )
    assert wrong.status_code == 200 and "not valid" in wrong.text, wrong.text[:3000]
    done = client.post(
        "/login/totp/enrol",
        data={"code": totp_code(admin.id), "csrf_token": auth.csrf_token("/login/totp/enrol")},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, admin.id).totp_enabled


def test_enrolled_user_goes_to_the_totp_step_and_a_code_is_single_use(app, client, auth):
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)  # enrols
    auth.logout()
    response = auth.login(admin, totp=False)
    assert response.headers["Location"] == "/login/totp"
    with db.engine.connect() as conn:
        last_step = conn.scalar(sa.select(User.totp_last_step).where(User.id == admin.id))
    import pyotp

    reused = pyotp.TOTP(db.session.get(User, admin.id).totp_secret).generate_otp(last_step)
    replay = client.post(
        "/login/totp", data={"code": reused, "csrf_token": auth.csrf_token("/login/totp")}
    )
    assert replay.status_code == 200 and "not valid" in replay.text
    assert auth.pass_totp(admin, "/login/totp").status_code == 303


def _session_rows(user_id):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(ConsoleSession)
        .where(ConsoleSession.user_id == user_id)
        .order_by(ConsoleSession.id)
    ).all()


def _cookie(client):
    return client.get_cookie("session").value


def test_session_rotates_at_login_and_the_old_cookie_is_refused(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    first = _cookie(client)
    auth.login(user)  # signing in again from the same browser
    assert _cookie(client) != first
    client.set_cookie("session", first)
    assert client.get("/admin/").status_code == 302
    rows = _session_rows(user.id)
    assert len(rows) == 2 and rows[0].revoked_at is not None and rows[1].revoked_at is None


def test_token_is_stored_hashed(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    row = _session_rows(user.id)[0]
    assert re.fullmatch(r"[0-9a-f]{64}", row.token_hash)


def _age_session(user_id, **deltas):
    row = _session_rows(user_id)[-1]
    for column, delta in deltas.items():
        setattr(row, column, getattr(row, column) - delta)
    db.session.commit()


def test_idle_session_ends_after_30_minutes(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    _age_session(user.id, last_seen_at=dt.timedelta(minutes=29))
    assert client.get("/admin/").status_code == 200
    _age_session(user.id, last_seen_at=dt.timedelta(minutes=31))
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _session_rows(user.id)[-1].revoked_at is not None


def test_session_ends_after_12_hours_however_active(client, auth, monkeypatch):
    from opsadmin.auth import sessions

    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    start = dt.datetime.now(dt.UTC)
    # Move the clock: active every 20 minutes for 12 hours.
    for minutes in range(20, 12 * 60, 20):
        monkeypatch.setattr(sessions, "now", lambda m=minutes: start + dt.timedelta(minutes=m))
        assert client.get("/admin/").status_code == 200, minutes
    monkeypatch.setattr(sessions, "now", lambda: start + dt.timedelta(hours=12, minutes=1))
    assert client.get("/admin/").status_code == 302


def test_logout_needs_post_and_invalidates_the_old_cookie(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    cookie = _cookie(client)
    assert client.get("/logout").status_code == 405
    assert auth.logout().status_code == 303
    client.set_cookie("session", cookie)  # replay the signed-in cookie
    assert client.get("/admin/").status_code == 302


def test_disabling_a_user_ends_their_sessions(client, auth):
    from opsadmin.auth import sessions

    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    sessions.set_user_active(db.session, db.session.get(User, user.id), False)
    db.session.commit()
    assert client.get("/admin/").status_code == 302
    assert all(row.revoked_at is not None for row in _session_rows(user.id))


def test_password_change_ends_sessions(client, auth):
    from opsadmin.auth import sessions

    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    sessions.change_password(db.session, db.session.get(User, user.id), "a brand new passphrase")
    db.session.commit()
    assert client.get("/admin/").status_code == 302
    assert auth.login(user, password="a brand new passphrase").status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/admin/",
        "\\\\evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "http:/evil.example",
        "/%0d%0aLocation:%20https://evil.example",
    ],
)
def test_next_never_leaves_the_site(client, auth, target):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    response = auth.login(user, next=target)
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "evil" not in location.split("?")[0] or location.startswith("/%")


def test_next_to_a_console_page_is_followed(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    assert auth.login(user, next="/admin/users/").headers["Location"] == "/admin/users/"


def test_login_and_logout_without_csrf_token_are_refused(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    refused = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 400
    auth.login(user)
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still signed in


def test_session_cookie_is_httponly_and_samesite_lax(client, auth):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.csrf_token()
    response = _post_login(client, auth, user.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookie_is_secure_with_host_prefix_outside_development(app_config):
    from opsadmin.app import create_app

    production = create_app({**app_config, "TESTING": False, "ENV": "production"})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_NAME"] == "__Host-opsadmin"
