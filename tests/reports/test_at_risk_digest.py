"""The follow-up digest's "Bookings at risk": per site and reason of the region, how many future
bookings the stored verdicts hold at risk and which (booking ids), in the HTML, the plain text and
the CSV, each linked to a console page that opens; never a patient."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from markupsafe import escape

from opsadmin import models as m
from opsadmin.reports import at_risk
from opsadmin.reports.followup import followup_for_region
from opsadmin.reports.render import render
from opsadmin.reports.weeks import week_of
from opsadmin.staff.service import ensure_default_rules
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    RegionFactory,
    RoomFactory,
    UserFactory,
    licensed_clinician,
)
from tests.test_query_counts import counted

EVERY_DAY = [(d, "08:00", "18:00") for d in range(7)]
SOON = dt.date.today() + dt.timedelta(days=5)
AS_OF = dt.date.today()
WEEK = week_of(AS_OF - dt.timedelta(days=7))


@pytest.fixture
def region(session):
    """GRN and IND in Indiana, CHI in Illinois, bookings on SOON; a burst pipe closes GRN that
    day, IND's room goes out of service, and the Indiana-only physician cannot take CHI's."""
    ensure_default_rules(session)
    indiana = RegionFactory(code="IN", name="Indiana")
    grn = LocationFactory(code="GRN", region=indiana, hours=EVERY_DAY)
    ind = LocationFactory(code="IND", region=indiana, hours=EVERY_DAY)
    chi = LocationFactory(
        code="CHI", region=RegionFactory(code="IL", name="Illinois"), state="IL",
        timezone="America/Chicago", hours=EVERY_DAY,
    )  # fmt: skip
    rooms = {site.code: RoomFactory(location=site, capacity=3) for site in (grn, ind, chi)}
    doctor = licensed_clinician([grn, ind, chi], states=("IN",))

    def book(site, external_id, hour, day=SOON, **fields):
        starts = dt.datetime.combine(day, dt.time(hour), dt.UTC)
        return AppointmentFactory(
            external_id=external_id, room=rooms[site], staff=doctor, starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1), patient_ref=f"PATIENT-{external_id}", **fields,
        )  # fmt: skip

    for n, hour in enumerate((15, 17, 19), start=1):
        book("GRN", f"GRN-{n}", hour)
    book("IND", "IND-1", 13)  # not while the clinician is at CHI
    book("CHI", "CHI-1", 16)
    past = book("GRN", "GRN-PAST", 15, day=AS_OF - dt.timedelta(days=2), status="completed")
    gone = book("GRN", "GRN-GONE", 16, status="cancelled")
    session.commit()
    grn.closures.append(m.LocationClosure(starts_on=SOON, ends_on=SOON, reason="Burst pipe"))
    rooms["IND"].active = False
    # Verdicts stored for bookings that no longer count: one has happened, one is cancelled.
    session.add_all(
        [
            m.AppointmentRisk(appointment=past, reason="room_closed"),
            m.AppointmentRisk(appointment=gone, reason="room_closed"),
        ]
    )
    session.commit()
    return indiana


def test_counts_per_site_and_reason_from_the_stored_verdicts_of_the_region(session, region):
    region_id = region.id
    with counted() as statements:
        found = at_risk.bookings_at_risk(session, region_id, dt.datetime.now(dt.UTC))
    assert [s for s in statements if s != "BEGIN"] == statements[-1:]  # one statement
    ids = {a.external_id: a.id for a in session.scalars(sa.select(m.Appointment))}

    def bookings(*names):
        return [{"appointment_id": ids[n], "external_id": n} for n in names]

    assert found == [
        {"location": "GRN", "reason": "location_closed", "count": 3,
         "bookings": bookings("GRN-1", "GRN-2", "GRN-3")},
        {"location": "IND", "reason": "room_inactive", "count": 1, "bookings": bookings("IND-1")},
    ]  # fmt: skip
    figures = followup_for_region(session, "IN", AS_OF, WEEK)
    assert figures["bookings_at_risk"] == found
    illinois = session.scalar(sa.select(m.Region.id).where(m.Region.code == "IL"))
    chicago = at_risk.bookings_at_risk(session, illinois, dt.datetime.now(dt.UTC))
    assert [(i["location"], i["reason"], i["count"]) for i in chicago] == [
        ("CHI", "staff_not_eligible", 1)
    ]


def test_digest_shows_them_in_html_text_and_csv_with_links_that_open(
    client, auth, session, region, monkeypatch
):
    monkeypatch.setattr(at_risk, "LISTED", 2)  # the third of GRN's is counted, not listed
    artefacts = render(followup_for_region(session, "IN", AS_OF, WEEK))

    table = artefacts.html.split('id="bookings-at-risk"')[1].split("</table>")[0]
    assert ">GRN-1</a>, " in table and ">GRN-2</a> and " in table and "GRN-3" not in table
    assert ">1 more</a>" in table and ">IND-1</a>" in table and "CHI" not in table
    page = str(escape(at_risk.at_risk_page("GRN", "location_closed")))
    assert f'<a href="{page}" style' in table
    assert "site closed or outside its hours" in table and "room out of service" in table

    text = artefacts.text.split("Bookings at risk, per site and reason")[1]
    assert re.search(
        r"^  GRN   site closed or outside its hours: 3 bookings \(GRN-1, GRN-2 and 1 more\)\n"
        r"    https?://\S+/admin/at-risk/\?location=GRN&reason=location_closed$",
        text,
        re.M,
    )
    assert "  IND   room out of service: 1 booking (IND-1)" in text
    assert "at_risk,GRN,location_closed,3,GRN-1 GRN-2" in artefacts.csv.splitlines()
    assert "at_risk,IND,room_inactive,1,IND-1" in artefacts.csv.splitlines()
    for part in (artefacts.html, artefacts.text, artefacts.csv):
        assert "PATIENT-" not in part

    auth.login(UserFactory(role="regional_lead", regions=[region]))
    found = re.findall(r'href="([^"]+/admin/(?:at-risk|appointments)/[^"]*)"', table)
    found += re.findall(r"https?://\S+/admin/at-risk/\S+", text)
    links = {url.replace("&amp;", "&") for url in found}
    assert len(links) == 5  # two lists, three bookings
    for url in sorted(links):
        target = urlsplit(url)
        response = client.get(target.path, query_string=target.query)
        assert response.status_code == 200, url
        if "/at-risk/" in url:
            assert "GRN-1" in response.text or "IND-1" in response.text


def test_none_at_risk_says_none(session):
    RegionFactory(code="IN", name="Indiana")
    session.commit()
    artefacts = render(followup_for_region(session, "IN", AS_OF, WEEK))
    title = "Bookings at risk, per site and reason"
    assert f"{title}\n{'-' * len(title)}\n  none" in artefacts.text
    assert (
        "Bookings at risk</h2>" in artefacts.html and 'id="bookings-at-risk"' not in artefacts.html
    )
