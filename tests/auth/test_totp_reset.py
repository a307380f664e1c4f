"""Issue 14, acceptance 4: an administrator resets a user's lost authenticator from the console
and from the command line; the reset is audited, ends the user's sessions and makes them enrol a
new authenticator at next sign-in (even where TOTP is not required for everyone). A user is only
created with a valid e-mail address, in the console and on the command line alike."""

from __future__ import annotations

import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.auth.models import ConsoleSession, User
from opsadmin.extensions import db
from tests.conftest import Auth
from tests.factories import PASSWORD, UserFactory


def enrolled_manager(app, auth) -> User:
    """An operations manager who set up an authenticator, signed in (on ``auth``'s client)."""
    user = UserFactory(role="ops_manager", email="manager@example.org")
    db.session.commit()
    app.config["OPSADMIN_REQUIRE_TOTP"] = True
    auth.login(user)
    app.config["OPSADMIN_REQUIRE_TOTP"] = False
    assert db.session.get(User, user.id).totp_enabled
    return user


def reset_events(user: User) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "reset_totp", AuditEvent.entity_id == str(user.id)
            )
        )
    )


def assert_reset(user_id: int) -> None:
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user.totp_secret is None and not user.totp_enabled and user.totp_enrol_required
    live = db.session.scalars(
        sa.select(ConsoleSession).where(
            ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None)
        )
    ).all()
    assert live == []


def test_admin_resets_two_factor_from_the_users_view(app, client, auth):
    user = enrolled_manager(app, auth)
    assert client.get("/admin/").status_code == 200
    admin_client = app.test_client()
    admin = UserFactory(role="admin")
    db.session.commit()
    Auth(admin_client).login(admin)
    listed = admin_client.get("/admin/users/").text
    assert "Reset two-factor" in listed
    response = admin_client.post(
        "/admin/users/action/", data={"action": "reset_totp", "rowid": str(user.id)}
    )
    assert response.status_code == 302
    assert_reset(user.id)
    [event] = reset_events(user)
    assert event.actor_label == admin.email and event.changes == {"sessions_ended": 1}
    # The user's session has ended; signing in again (password only is enough for an ops
    # manager here) leads to enrolling a new authenticator, not into the console.
    assert client.get("/admin/").status_code == 302
    again = auth.login(user, totp=False)
    assert again.status_code == 303 and again.headers["Location"] == "/login/totp/enrol"
    assert client.get("/admin/").status_code == 302
    auth.pass_totp(user, "/login/totp/enrol")
    assert client.get("/admin/").status_code == 200
    db.session.expire_all()
    assert not db.session.get(User, user.id).totp_enrol_required


def test_reset_two_factor_on_the_command_line(app, auth, runner):
    user = enrolled_manager(app, auth)
    result = runner.invoke(args=["users", "reset-totp", "Manager@Example.org"])
    assert result.exit_code == 0, result.output
    assert "manager@example.org" in result.output
    assert_reset(user.id)
    [event] = reset_events(user)
    assert event.actor_type == "system" and event.actor_label == "cli"


def test_reset_two_factor_of_an_unknown_user_is_refused(runner):
    result = runner.invoke(args=["users", "reset-totp", "nobody@example.org"])
    assert result.exit_code == 2
    assert "No user 'nobody@example.org'" in result.output


def test_users_create_refuses_a_bad_email_address(runner):
    result = runner.invoke(
        args=["users", "create", "notanemail", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 2
    assert "'notanemail' is not a valid e-mail address." in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_console_refuses_a_user_with_a_bad_email_address(client, auth):
    auth.login(UserFactory(role="admin"))
    db.session.commit()
    response = client.post(
        "/admin/users/new/",
        data={"email": "notanemail", "role": "ops_manager", "password": PASSWORD, "active": "y"},
        follow_redirects=True,
    )
    assert "is not a valid e-mail address." in response.text
    assert db.session.scalar(sa.select(User.id).where(User.email == "notanemail")) is None
