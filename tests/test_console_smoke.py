"""The console answers: anonymous users go to the login page, a signed-in admin sees the home."""

from opsadmin.extensions import db
from tests.factories import UserFactory


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_admin_signs_in_and_sees_console(client, auth):
    user = UserFactory(role="admin")
    db.session.commit()
    response = auth.login(user)
    assert response.status_code == 303
    assert client.get("/admin/").status_code == 200
