"""Bulk "Delete" from a console list works on PostgreSQL too (issue 11, problem 2).

flask-admin compared the form's string ids with the integer key (``integer = character varying``
on PostgreSQL, a 500); the base view now hands it ids of the key's type, for every view.
"""

from __future__ import annotations

from opsadmin.console import SecureModelView
from opsadmin.extensions import db
from opsadmin.rooms.models import Room
from tests.factories import LocationFactory, RoomFactory, UserFactory


def test_bulk_delete_of_rooms_removes_the_selected_rows(client, auth):
    site = LocationFactory()
    doomed, other, kept = (
        RoomFactory(location=site),
        RoomFactory(location=site),
        RoomFactory(location=site),
    )
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    response = client.post(
        "/admin/rooms/action/",
        data={"action": "delete", "rowid": [str(doomed.id), str(other.id), "not-an-id"]},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Room, doomed.id) is None and db.session.get(Room, other.id) is None
    assert db.session.get(Room, kept.id) is not None


def test_every_view_offering_delete_gives_flask_admin_typed_ids(app):
    views = [
        v
        for v in app.extensions["opsadmin_admin"]._views
        if isinstance(v, SecureModelView) and "delete" in v._actions_data
    ]
    assert views
    for view in views:
        pk_type = view.model.__mapper__.primary_key[0].type.python_type
        assert all(type(pk) is pk_type for pk in view.typed_ids(["7", "8"])), view.name
