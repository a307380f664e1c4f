"""What an operations manager reads in the console: instants in a readable UTC form, a site
registration's status next to its expiry, filterable."""

from __future__ import annotations

import datetime as dt
import re

from opsadmin.admin.figures import filter_link
from opsadmin.extensions import db
from opsadmin.reports.models import ReportRun
from opsadmin.rooms.models import RoomClosure
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    ReferralFactory,
    RoomFactory,
    UserFactory,
)

TODAY = dt.date.today()
INSTANT = dt.datetime(2026, 3, 8, 14, 30, 5, 123456, dt.UTC)


def test_list_and_detail_pages_show_instants_as_utc_to_the_second(client, auth):
    room = RoomFactory()
    closure = RoomClosure(room=room, starts_at=INSTANT, ends_at=INSTANT + dt.timedelta(hours=2))
    db.session.add(closure)
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    for url in ("/admin/room_closures/", f"/admin/room_closures/details/?id={closure.id}"):
        page = client.get(url).text
        assert "2026-03-08 14:30:05 UTC" in page, url
        assert "+00:00" not in page and "123456" not in page, url


def test_report_run_deliveries_show_when_they_were_sent_in_utc(client, auth):
    site = LocationFactory()
    run = ReportRun(kind="utilisation", region=site.region, week="2026-W10", status="sent")
    run.enqueued_at = INSTANT
    db.session.add(run)
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    page = client.get(f"/admin/report_runs/details/?id={run.id}").text
    assert "2026-03-08 14:30:05 UTC" in page and "+00:00" not in page


def test_site_registrations_show_their_status_and_filter_by_it(app, client, auth):
    LocationFactory(code="OLD", dea=TODAY - dt.timedelta(days=3))
    LocationFactory(code="SON", dea=TODAY + dt.timedelta(days=20))
    LocationFactory(code="FAR", dea=TODAY + dt.timedelta(days=400))
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    page = client.get("/admin/site_registrations/").text
    for status in ("expired", "expiring", "valid"):
        assert re.search(
            rf'<span class="badge [^"]+" data-status="{status}">{status.title()}</span>', page
        ), status
    for status, code in (("expired", "OLD"), ("expiring", "SON"), ("valid", "FAR")):
        with app.test_request_context():
            url = filter_link("admin_site_registrations", {"Status": status})
        assert "flt0_" in url
        listed = client.get(url).text
        shown = {c for c in ("OLD", "SON", "FAR") if f"F{c}IN0001" in listed}
        assert shown == {code}, status


def test_labels_read_as_words_not_column_names(client, auth):
    site = LocationFactory()
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    assert "Address line 1" in client.get(f"/admin/locations/edit/?id={site.id}").text
    users = client.get("/admin/users/").text
    assert "Two-factor set up" in users and "Totp" not in users


def test_appointments_show_the_sites_clock_and_link_their_referral(client, auth):
    room = RoomFactory()  # Greencastle's zone, America/Indiana/Indianapolis
    referral = ReferralFactory(consult_location=room.location)
    starts = dt.datetime(2026, 1, 15, 15, 0, tzinfo=dt.UTC)
    booking = AppointmentFactory(
        room=room, referral=referral, starts_at=starts, ends_at=starts + dt.timedelta(hours=2)
    )
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    for url in ("/admin/appointments/", f"/admin/appointments/details/?id={booking.id}"):
        page = client.get(url).text
        assert "Thu 15 Jan 10:00–12:00 EST" in page, url
        assert f'href="/admin/referrals/details/?id={referral.id}">#{referral.id}</a>' in page, url
