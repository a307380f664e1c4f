"""The console's audit log: read-only, administrators only, newest first, filterable."""

from __future__ import annotations

from opsadmin.audit.service import Actor, record
from opsadmin.extensions import db
from tests.console_forms import sign_in
from tests.factories import RegionFactory


def test_audit_log_lists_newest_first(client, auth):
    sign_in(auth)
    record(db.session, "export", entity="Location", entity_id=1, actor=Actor("user", 1, "first"))
    record(db.session, "export", entity="Location", entity_id=2, actor=Actor("user", 1, "second"))
    db.session.commit()
    html = client.get("/admin/audit_log/").get_data(as_text=True)
    assert html.index("second") < html.index("first")


def test_audit_log_cannot_be_written(client, auth):
    sign_in(auth)
    record(db.session, "export", entity="Location", entity_id=1)
    db.session.commit()
    assert client.get("/admin/audit_log/new/").status_code in (302, 403, 404)
    assert client.get("/admin/audit_log/edit/?id=1").status_code in (302, 403, 404)
    client.post("/admin/audit_log/delete/", data={"id": "1"})
    from tests.console_forms import events

    assert len(events(action="export")) == 1


def test_audit_log_is_for_administrators_only(client, auth):
    region = RegionFactory()
    db.session.commit()
    sign_in(auth, "ops_manager", [region])
    assert client.get("/admin/audit_log/").status_code == 403
