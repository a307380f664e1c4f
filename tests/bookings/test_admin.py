"""The console's appointments: read-only, scoped by the location's region, filterable."""

from __future__ import annotations

import pytest

from opsadmin.extensions import db
from tests.console_forms import page_text, sign_in
from tests.factories import AppointmentFactory, LocationFactory, RegionFactory, RoomFactory


@pytest.fixture
def two_regions():
    indiana = RegionFactory(code="IN", name="Indiana")
    illinois = RegionFactory(code="IL", name="Illinois")
    grn = AppointmentFactory(
        external_id="BK-GRN", room=RoomFactory(location=LocationFactory(code="GRN", region=indiana))
    )
    chi = AppointmentFactory(
        external_id="BK-CHI",
        room=RoomFactory(location=LocationFactory(code="CHI", region=illinois, state="IL")),
        status="cancelled",
    )
    db.session.commit()
    return indiana, grn, chi


def test_ops_manager_sees_only_their_regions_appointments(client, auth, two_regions):
    indiana, grn, chi = two_regions
    sign_in(auth, "ops_manager", [indiana])
    text = page_text(client.get("/admin/appointments/"))
    assert "BK-GRN" in text and "BK-CHI" not in text
    assert client.get(f"/admin/appointments/details/?id={grn.id}").status_code == 200
    hidden = client.get(f"/admin/appointments/details/?id={chi.id}")
    assert "BK-CHI" not in page_text(hidden)


def test_regional_lead_reads_appointments(client, auth, two_regions):
    indiana, grn, _ = two_regions
    sign_in(auth, "regional_lead", [indiana])
    assert "BK-GRN" in page_text(client.get("/admin/appointments/"))


def test_appointments_cannot_be_created_edited_or_deleted_in_the_console(client, auth, two_regions):
    _, grn, _ = two_regions
    sign_in(auth, "admin")
    for url in ("/admin/appointments/new/", f"/admin/appointments/edit/?id={grn.id}"):
        assert client.get(url).status_code in (302, 403)
    response = client.post("/admin/appointments/delete/", data={"id": str(grn.id)})
    assert response.status_code in (302, 403)
    db.session.expire_all()
    assert db.session.get(type(grn), grn.id) is not None


def _filter_url(app, column: str, value: str) -> str:
    """The list URL applying the view's "equals" filter on ``column``."""
    from opsadmin.bookings.models import Appointment

    admin = app.extensions["opsadmin_admin"]
    view = next(v for v in admin._views if getattr(v, "model", None) is Appointment)
    index = next(
        i
        for i, flt in enumerate(view._filters)
        if flt.column.key == column and flt.operation() == "equals"
    )
    return f"/admin/appointments/?flt0_{view.get_filter_arg(index, view._filters[index])}={value}"


@pytest.mark.parametrize(
    ("column", "value", "shown", "hidden"),
    [("code", "CHI", "BK-CHI", "BK-GRN"), ("status", "booked", "BK-GRN", "BK-CHI")],
)
def test_appointments_filter_by_location_and_status(
    app, client, auth, two_regions, column, value, shown, hidden
):
    sign_in(auth, "admin")
    text = page_text(client.get(_filter_url(app, column, value)))
    assert shown in text and hidden not in text


def test_appointments_search_by_booking_id(client, auth, two_regions):
    sign_in(auth, "admin")
    text = page_text(client.get("/admin/appointments/?search=BK-CHI"))
    assert "BK-CHI" in text and "BK-GRN" not in text


def test_anonymous_is_sent_to_login(client, two_regions):
    assert client.get("/admin/appointments/").status_code == 302
