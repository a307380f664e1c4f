"""The console's referral pages: scoped list and filters, audited detail with timeline and
capacity, and transition actions that work for ops managers and are refused for regional leads."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from opsadmin.db import utcnow
from opsadmin.extensions import db
from opsadmin.referrals.admin import ReferralView
from opsadmin.referrals.models import Referral, ReferralEvent, Screening
from tests.console_forms import events, page_text, sign_in
from tests.factories import LocationFactory, ReferralFactory, RegionFactory

URL = "/admin/referrals/"


def listed(text: str) -> set[int]:
    """The referral ids a list page shows (each row links to its details)."""
    return {int(i) for i in re.findall(r"/admin/referrals/details/\?id=(\d+)", text)}


@pytest.fixture
def illinois(session):
    return LocationFactory(
        code="CHI",
        region=RegionFactory(code="IL", name="Illinois"),
        state="IL",
        timezone="America/Chicago",
    )


@pytest.fixture
def consulted(chain, session):
    referral = ReferralFactory(
        consult_location=chain.grn, treatment_location=chain.ind, status="consulted"
    )
    session.commit()
    return referral


def move(client, referral_id, to, **form):
    return client.post(f"{URL}transition/", data={"id": str(referral_id), "to": to, **form})


def state_of(referral_id):
    db.session.expire_all()
    referral = db.session.get(Referral, referral_id)
    return referral.status, [(e.from_status, e.to_status) for e in referral.events]


def flashed(client, response) -> str:
    return page_text(client.get(response.headers["Location"]))


# -- list ----------------------------------------------------------------------------------------


def test_ops_manager_sees_referrals_touching_their_regions_only(client, auth, chain, illinois):
    here = ReferralFactory(consult_location=chain.grn, patient_ref="P-HERE")
    treated_here = ReferralFactory(
        consult_location=illinois, treatment_location=chain.ind, patient_ref="P-CROSS"
    )
    elsewhere = ReferralFactory(consult_location=illinois, patient_ref="P-AWAY")
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    text = page_text(client.get(URL))
    assert listed(text) == {here.id, treated_here.id}
    for referral, visible in ((here, True), (treated_here, True), (elsewhere, False)):
        details = client.get(f"{URL}details/?id={referral.id}")
        assert (details.status_code == 200) == visible, referral


def filtered(client, app, name: str, value: str) -> set[int]:
    """The ids the list shows with the filter called ``name`` set to ``value``."""
    view = next(v for v in app.extensions["opsadmin_admin"]._views if isinstance(v, ReferralView))
    index = next(i for i, f in enumerate(view._filters) if f.name == name)
    response = client.get(
        URL, query_string={f"flt0_{view.get_filter_arg(index, view._filters[index])}": value}
    )
    assert response.status_code == 200
    return listed(page_text(response))


def test_stalled_filter_lists_only_stalled_referrals(client, auth, chain, app):
    stalled = ReferralFactory(
        consult_location=chain.grn, status_changed_at=utcnow() - dt.timedelta(days=10)
    )
    fresh = ReferralFactory(consult_location=chain.grn)
    sign_in(auth, "admin")
    assert filtered(client, app, "Stalled", "1") == {stalled.id}
    assert filtered(client, app, "Stalled", "0") == {fresh.id}


def test_list_filters_by_status_indication_and_either_location(client, auth, chain, illinois, app):
    approved = ReferralFactory(
        consult_location=illinois, status="approved", indication="depression"
    )
    cross = ReferralFactory(consult_location=illinois, treatment_location=chain.ind)
    sign_in(auth, "admin")
    assert filtered(client, app, "Status", "approved") == {approved.id}
    assert filtered(client, app, "Indication", "depression") == {approved.id}
    assert filtered(client, app, "Location (consult or treatment)", "ind") == {cross.id}
    assert filtered(client, app, "Location (consult or treatment)", "CHI") == {
        approved.id,
        cross.id,
    }


# -- detail --------------------------------------------------------------------------------------


def test_detail_shows_timeline_and_is_audited(client, auth, chain, consulted):
    user = sign_in(auth, "regional_lead", regions=[chain.grn.region])
    db.session.add(
        ReferralEvent(
            referral_id=consulted.id,
            from_status="consult_scheduled",
            to_status="consulted",
            actor_type="system",
            actor_label="system",
            reason="automatic: consult completed",
        )
    )
    db.session.commit()
    response = client.get(f"{URL}details/?id={consulted.id}")
    assert response.status_code == 200
    text = page_text(response)
    assert "automatic: consult completed" in text
    assert 'id="referral-events"' in text
    views = events("Referral", "view")
    assert [(v.entity_id, v.actor_type, v.actor_id) for v in views] == [
        (str(consulted.id), "user", user.id)
    ]


def test_detail_lists_treatment_sites_with_free_capacity(client, auth, chain, consulted):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    text = page_text(client.get(f"{URL}details/?id={consulted.id}"))
    assert 'id="treatment-capacity"' in text
    assert "IND — " in text and "planned" in text


def test_regional_lead_sees_no_actions(client, auth, chain, consulted):
    sign_in(auth, "regional_lead", regions=[chain.grn.region])
    text = page_text(client.get(f"{URL}details/?id={consulted.id}"))
    assert 'id="referral-actions"' not in text


def test_ops_manager_sees_the_allowed_actions(client, auth, chain, consulted):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    text = page_text(client.get(f"{URL}details/?id={consulted.id}"))
    for action in ("move-approved", "move-declined", "move-withdrawn"):
        assert f'id="{action}"' in text
    assert 'id="move-completed"' not in text


# -- actions -------------------------------------------------------------------------------------


def test_ops_manager_approves_with_a_screening(client, auth, chain, consulted):
    user = sign_in(auth, "ops_manager", regions=[chain.grn.region])
    response = move(
        client,
        consulted.id,
        "approved",
        reason="good candidate",
        decided_by=str(chain.physician.id),
        flags=["raised_intraocular_pressure"],
        override="Ophthalmology cleared",
    )
    assert response.status_code == 302
    assert f"Referral #{consulted.id} is now approved." in flashed(client, response)
    status, moves = state_of(consulted.id)
    assert (status, moves) == ("approved", [("consulted", "approved")])
    event = db.session.scalar(sa.select(ReferralEvent))
    assert (event.actor_type, event.actor_id, event.reason) == ("user", user.id, "good candidate")
    screening = db.session.scalar(sa.select(Screening))
    assert screening.flags == ["raised_intraocular_pressure"]


def test_console_and_api_leave_the_same_events(client, auth, chain, api_headers, session):
    by_console, by_api = (
        ReferralFactory(consult_location=chain.grn, status="consulted") for _ in range(2)
    )
    session.commit()
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    move(client, by_console.id, "declined", reason="r", decided_by=str(chain.physician.id))
    client.post(
        f"/api/v1/referrals/{by_api.id}/transitions",
        json={"to": "declined", "reason": "r", "screening": {"decided_by": chain.physician.id}},
        headers=api_headers("write"),
    )

    def trail(referral_id):
        db.session.expire_all()
        referral = db.session.get(Referral, referral_id)
        return (
            [(e.from_status, e.to_status, e.reason) for e in referral.events],
            [(s.decision, s.flags, s.decided_by_id) for s in referral.screenings],
        )

    assert trail(by_console.id) == trail(by_api.id)
    assert trail(by_console.id)[0] == [("consulted", "declined", "r")]


def test_approving_with_a_flag_and_no_override_is_refused_with_a_message(
    client, auth, chain, consulted
):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    response = move(
        client, consulted.id, "approved", decided_by=str(chain.physician.id), flags=["pregnancy"]
    )
    assert "needs a written override" in flashed(client, response)
    assert state_of(consulted.id) == ("consulted", [])


def test_approving_without_a_physician_is_refused(client, auth, chain, consulted):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    response = move(client, consulted.id, "approved", decided_by="")
    assert "physician" in flashed(client, response)
    assert state_of(consulted.id) == ("consulted", [])


def test_invalid_transition_is_refused_with_a_message(client, auth, chain, consulted):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    response = move(client, consulted.id, "completed")
    assert "cannot move to completed" in flashed(client, response)
    assert state_of(consulted.id) == ("consulted", [])


def test_ops_manager_withdraws(client, auth, chain, consulted):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    move(client, consulted.id, "withdrawn", reason="patient declined treatment")
    assert state_of(consulted.id) == ("withdrawn", [("consulted", "withdrawn")])


def test_regional_lead_cannot_move_a_referral(client, auth, chain, consulted):
    sign_in(auth, "regional_lead", regions=[chain.grn.region])
    response = move(client, consulted.id, "withdrawn", reason="x")
    assert response.status_code == 403
    assert state_of(consulted.id) == ("consulted", [])


def test_ops_manager_cannot_move_another_regions_referral(client, auth, chain, consulted, illinois):
    sign_in(auth, "ops_manager", regions=[illinois.region])
    response = move(client, consulted.id, "withdrawn")
    assert "Record does not exist." in flashed(client, response)
    assert state_of(consulted.id) == ("consulted", [])


def test_console_cannot_create_edit_or_delete_referrals(client, auth, chain, consulted):
    sign_in(auth, "admin")
    assert client.get(f"{URL}new/").status_code in (302, 403, 404)
    assert client.get(f"{URL}edit/?id={consulted.id}").status_code in (302, 403, 404)
    client.post(f"{URL}delete/", data={"id": str(consulted.id)})
    assert state_of(consulted.id)[0] == "consulted"


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_a_transition_without_csrf_token_is_refused(self, client, auth, chain, consulted):
        sign_in(auth, "ops_manager", regions=[chain.grn.region])
        response = move(client, consulted.id, "withdrawn")
        assert response.status_code in (400, 403)
        assert state_of(consulted.id) == ("consulted", [])

    def test_the_action_form_carries_a_working_token(self, client, auth, chain, consulted):
        sign_in(auth, "ops_manager", regions=[chain.grn.region])
        page = client.get(f"{URL}details/?id={consulted.id}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        move(client, consulted.id, "withdrawn", csrf_token=token)
        assert state_of(consulted.id)[0] == "withdrawn"


def test_first_free_infusion_needs_a_chair_and_an_eligible_clinician(chain, session):
    from opsadmin.referrals.admin import candidate_sites, first_free_infusion
    from tests.factories import RoomFactory, StaffFactory

    unlicensed = LocationFactory(code="BLM", hours=[(d, "08:00", "18:00") for d in range(7)])
    RoomFactory(location=unlicensed, kind="infusion")
    StaffFactory(locations=[unlicensed])  # assigned, but holds no credential
    unstaffed = LocationFactory(code="NOB")
    RoomFactory(location=unstaffed, kind="infusion")
    referral = ReferralFactory(consult_location=chain.grn, treatment_location=chain.ind)
    session.commit()
    first = first_free_infusion(chain.ind, 14)
    assert first is not None and utcnow() < first < utcnow() + dt.timedelta(days=2)
    assert first_free_infusion(unlicensed, 14) is None
    assert [site.code for site in candidate_sites(referral)] == ["IND", "BLM"]
    assert candidate_sites(referral, {chain.ind.region_id + 1000}) == []
