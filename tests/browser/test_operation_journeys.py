"""Journeys through the pages that run the operation, in a real Chromium (issue 14 acceptance 1):
the day board, the compliance page and a closure that asks before it puts bookings at risk.

The server and browser come from ``test_console_journeys``; each journey fails on any CSP
violation, script error or failed resource on any page it visits. Screenshots go to
test-output/screenshots/.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.browser.test_console_journeys import (  # noqa: F401  (fixtures used by name)
    Journey,
    choose,
    chromium_browser,
    live_server,
)

pytestmark = pytest.mark.browser

DAY = dt.date.today() + dt.timedelta(days=3)


@pytest.fixture
def operation(live_server):  # noqa: F811
    """The live server's sites, plus bookings on DAY at Greencastle, a room closure that day, a
    location closure the day after, and the out-of-state physician (Indiana licence, Chicago)."""
    base_url, seed, app = live_server
    from opsadmin import models as m
    from opsadmin.extensions import db
    from opsadmin.locations.service import local_datetime
    from opsadmin.staff.service import ensure_default_rules

    with app.app_context():
        session = db.session
        ensure_default_rules(session)
        grn, chi = (
            session.scalars(sa.select(m.Location).where(m.Location.code == code)).one()
            for code in ("GRN", "CHI")
        )
        room = grn.rooms[0]
        ada = session.get(m.StaffMember, seed["staff_id"])
        hale = m.StaffMember(
            name="Dr Morgan Hale", email="hale@clinic.example.org", role="physician",
            locations=[grn, chi],
        )  # fmt: skip
        session.add(hale)
        for staff in (ada, hale):
            for kind, state in (
                ("state_license", "IN"),
                ("dea_registration", "IN"),
                ("acls", None),
            ):
                staff.credentials.append(
                    m.Credential(
                        kind=kind, number=f"{kind[:3].upper()}-{staff.email[:3]}", state=state,
                        issued_on=DAY - dt.timedelta(days=400), expires_on=DAY + dt.timedelta(days=400),
                        verified_on=DAY - dt.timedelta(days=390), verified_by="credentialing",
                    )
                )  # fmt: skip

        def at(day, time):
            return local_datetime(grn, day, dt.time.fromisoformat(time))

        for external_id, start, minutes, status in (
            ("BK-0900", "09:00", 120, "booked"),
            ("BK-0930", "09:30", 60, "checked_in"),
            ("BK-1100", "11:00", 60, "booked"),
            ("BK-1000X", "10:00", 60, "cancelled"),
        ):
            session.add(
                m.Appointment(
                    external_id=external_id, location=grn, room=room, staff=ada, kind="infusion",
                    indication="migraine", patient_ref=f"P-{external_id}", starts_at=at(DAY, start),
                    ends_at=at(DAY, start) + dt.timedelta(minutes=minutes), status=status,
                )
            )  # fmt: skip
        room.closures.append(
            m.RoomClosure(starts_at=at(DAY, "14:00"), ends_at=at(DAY, "16:00"), reason="Pump check")
        )
        next_day = DAY + dt.timedelta(days=1)
        grn.closures.append(m.LocationClosure(starts_on=next_day, ends_on=next_day, reason="Flood"))
        session.commit()
        ids = {"grn": grn.id, "room": room.id}
    return base_url, ids, app


def test_day_board_shows_the_sites_bookings_in_chair_lanes_and_its_closures(
    chromium_browser,  # noqa: F811
    operation,
):
    base_url, _ids, _app = operation
    journey = Journey(chromium_browser, base_url, "day-board")
    journey.sign_in("admin@ops.example.org")
    page = journey.page
    page.click("#panel-utilisation tr:has-text('Greencastle') a.board-link")  # the dashboard
    page.wait_for_url(lambda url: "/admin/board/" in url and "location=GRN" in url)
    journey.go(f"/admin/board/?location=GRN&date={DAY}")
    room = page.locator(".board-room", has_text="GRN infusion")
    lanes = room.locator(".board-row")
    assert lanes.count() == 4  # 3 chairs and one lane of cancelled bookings

    def lane(name):
        return room.locator(f"[data-lane='{name}'] .board-block").evaluate_all(
            "els => els.map(e => e.dataset.externalId)"
        )

    # BK-0900 ends at 11:00, so BK-1100 takes its chair; BK-0930 overlaps and takes the second.
    assert lane("Chair 1") == ["BK-0900", "BK-1100"]
    assert lane("Chair 2") == ["BK-0930"]
    assert lane("Chair 3") == []
    assert room.locator("[data-lane='Cancelled'] [data-external-id='BK-1000X']").count() == 1
    block = room.locator("[data-external-id='BK-0930']")
    assert block.get_attribute("data-status") == "checked_in"
    assert "Dr Ada Physician" in block.inner_text()
    # 09:30 on a 00:00–24:00 day: 39.58 % of the width from the left of the lane
    lane_box = room.locator("[data-lane='Chair 2'] .board-track").bounding_box()
    block_box = block.bounding_box()
    assert abs((block_box["x"] - lane_box["x"]) / lane_box["width"] - 9.5 / 24) < 0.01
    assert room.locator("[data-shade='room_closure']").first.is_visible()
    assert page.locator("#board-closed").count() == 0
    journey.shot("day")
    page.click("#board-next")
    page.wait_for_url(f"**date={DAY + dt.timedelta(days=1)}")
    assert "Flood" in page.locator("#board-closed").inner_text()
    assert page.locator("[data-shade='location_closure']").count() >= 3
    journey.shot("closed-day")
    page.click("#board-previous")
    page.wait_for_url(f"**date={DAY}")
    page.click("[data-external-id='BK-1100']")
    page.wait_for_url("**/admin/appointments/details/**")
    assert "BK-1100" in page.content()
    journey.assert_clean()


def test_compliance_page_flags_the_out_of_state_clinician(chromium_browser, operation):  # noqa: F811
    base_url, _ids, _app = operation
    journey = Journey(chromium_browser, base_url, "compliance")
    journey.sign_in("admin@ops.example.org")
    journey.go("/admin/compliance/")
    page = journey.page
    flagged = page.locator("tr[data-flagged='true']")
    assert flagged.count() == 1
    assert flagged.get_attribute("data-staff") == "Dr Morgan Hale"
    assert flagged.get_attribute("data-location") == "CHI"
    assert "state license (IL): missing" in flagged.inner_text()
    ok = page.locator("tr[data-staff='Dr Morgan Hale'][data-location='GRN']")
    assert ok.get_attribute("data-flagged") == "false"
    journey.shot("all")
    page.select_option("#filter-location", "CHI")
    page.click("#compliance-filters button[type=submit]")
    page.wait_for_url("**location=CHI*")
    assert page.locator("tr[data-staff]").count() == 1
    journey.shot("chicago")
    journey.assert_clean()


def test_closure_over_booked_day_shows_its_impact_and_saves_only_after_confirming(
    chromium_browser,  # noqa: F811
    operation,
):
    base_url, ids, app = operation
    from opsadmin import models as m
    from opsadmin.extensions import db

    def closures():
        with app.app_context():
            return db.session.scalar(
                sa.select(sa.func.count(m.LocationClosure.id)).where(
                    m.LocationClosure.reason == "Burst pipe"
                )
            )

    journey = Journey(chromium_browser, base_url, "closure-impact")
    journey.sign_in("admin@ops.example.org")
    journey.go("/admin/location_closures/new/")
    page = journey.page
    choose(page, "#location", "Greencastle")
    page.fill("#starts_on", DAY.isoformat())
    page.fill("#ends_on", DAY.isoformat())
    page.fill("#reason", "Burst pipe")
    page.locator("input[type=submit][value='Save']").dispatch_event("click")
    page.wait_for_selector("#impact")
    listed = page.locator("#impact-bookings tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.externalId)"
    )
    assert listed == ["BK-0900", "BK-0930", "BK-1100"]  # not the cancelled one
    assert closures() == 0
    journey.shot("asks")
    page.click("#confirm-impact")
    page.wait_for_url("**/admin/location_closures/")
    assert "3 booking(s) are at risk" in page.content()
    assert closures() == 1
    journey.shot("saved")
    journey.assert_clean()
