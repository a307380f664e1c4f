"""Issue 14: the console speaks the clinic's words. Stored enum values (roles, kinds, indications,
statuses, scopes) read as words with status badges in lists, details, filters and forms, from one
table (opsadmin.labels); the audit log shows what changed (field: old → new), not raw JSON."""

from __future__ import annotations

import datetime as dt
import html
import re

from opsadmin.extensions import db
from tests.console_forms import page_text, sign_in
from tests.factories import (
    CredentialFactory,
    LocationFactory,
    ReferralFactory,
    RoomFactory,
    StaffFactory,
)

RAW = (
    "registered_nurse",
    "chronic_pain",
    "follow_up",
    "ops_manager",
    "in_treatment",
    "state_license",
)


def visible_text(page: str) -> str:
    """The text a reader sees: no tags, attributes, scripts or the filters' hidden JSON (values
    stay in option values; the filters' words are checked on their own)."""
    page = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    page = re.sub(r'<div id="filter-groups-data".*?</div>', "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_lists_details_and_filters_show_words_not_stored_values(client, auth):
    site = LocationFactory(code="GRN")
    nurse = StaffFactory(role="registered_nurse", locations=[site])
    CredentialFactory(staff=nurse, kind="state_license", state="IN")
    referral = ReferralFactory(
        consult_location=site, indication="chronic_pain", status="in_treatment"
    )
    db.session.commit()
    sign_in(auth)
    pages = {
        "/admin/staff/": ("Registered nurse",),
        f"/admin/staff/details/?id={nurse.id}": ("Registered nurse", "State licence"),
        "/admin/credentials/": ("State licence",),
        "/admin/referrals/": ("Chronic pain", "In treatment"),
        f"/admin/referrals/details/?id={referral.id}": ("Chronic pain", "In treatment"),
        "/admin/users/": ("Administrator",),
    }
    for url, words in pages.items():
        text = visible_text(client.get(url).get_data(as_text=True))
        for word in words:
            assert word in text, (url, word)
        for raw in RAW:
            assert raw not in text, (url, raw)


def test_status_is_a_coloured_badge_keeping_the_value_for_machines(client, auth):
    ReferralFactory(status="in_treatment")
    db.session.commit()
    sign_in(auth)
    page = client.get("/admin/referrals/").get_data(as_text=True)
    assert (
        '<span class="badge badge-info status-badge" data-status="in_treatment">In treatment</span>'
        in page
    )


def test_filters_and_forms_offer_words_and_submit_values(client, auth):
    sign_in(auth)
    staff_list = client.get("/admin/staff/").get_data(as_text=True)
    assert re.search(
        r"\[\"registered_nurse\", \"Registered nurse\"\]|registered_nurse.{0,40}Registered nurse",
        staff_list,
    )
    form = client.get("/admin/staff/new/").get_data(as_text=True)
    assert '<option value="registered_nurse">Registered nurse</option>' in form
    room_form = client.get("/admin/rooms/new/").get_data(as_text=True)
    assert '<option value="infusion">Infusion</option>' in room_form
    user_form = client.get("/admin/users/new/").get_data(as_text=True)
    assert '<option value="ops_manager">Operations manager</option>' in user_form


def test_audit_log_shows_a_readable_change_list_and_capital_headers(client, auth):
    room = RoomFactory(name="Chair bay", capacity=2)
    db.session.commit()
    user = sign_in(auth)
    edit = client.post(
        f"/admin/rooms/edit/?id={room.id}",
        data={"location": str(room.location_id), "name": "Chair bay", "kind": "infusion",
              "capacity": "3", "active": "y"},
    )  # fmt: skip
    assert edit.status_code == 302
    page = page_text(client.get("/admin/audit_log/"))
    assert "<th" in page and re.search(r">\s*IP\s*<", page) and re.search(r">\s*ID\s*<", page)
    assert not re.search(r">\s*(Ip|Id)\s*<", page)
    assert "<strong>Capacity</strong>: <del>2</del> → <ins>3</ins>" in page
    assert '{"capacity"' not in page and "[2, 3]" not in page
    assert user.email in page
    assert dt.date.today().isoformat() in page
