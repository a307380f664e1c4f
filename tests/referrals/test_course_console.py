"""The treatment course on the referral's console page: "Propose course" in the site's local time,
"Book course" (POST + CSRF, audited, refused to regional leads), and the booked course's timeline."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from opsadmin.bookings.models import Appointment
from opsadmin.extensions import db
from opsadmin.referrals.models import Referral
from tests.console_forms import count, events, page_text, sign_in
from tests.factories import AppointmentFactory, ReferralFactory

URL = "/admin/referrals/"
INDIANA = ZoneInfo("America/Indiana/Indianapolis")
TOMORROW = dt.date.today() + dt.timedelta(days=1)


@pytest.fixture
def approved(chain, session):
    referral = ReferralFactory(
        consult_location=chain.grn, treatment_location=chain.ind, status="approved"
    )
    session.commit()
    return referral


def propose(client, referral, sessions=3):
    return client.get(
        f"{URL}course/propose/",
        query_string={
            "id": referral.id,
            "from": TOMORROW.isoformat(),
            "sessions": sessions,
            "duration": 120,
        },
    )


def book_form(text: str) -> dict[str, list[str]]:
    """The hidden fields of the proposal's "Book course" form."""
    form = text[text.index('id="course-book"') :]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form):
        fields.setdefault(name, []).append(value)
    return fields


def test_the_referral_page_offers_propose_course_while_approved(client, auth, chain, approved):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    text = page_text(client.get(f"{URL}details/?id={approved.id}"))
    assert 'id="propose-course"' in text
    assert "No infusion booked for this referral yet." in text


def test_propose_course_shows_site_local_dates_rooms_and_clinicians(client, auth, chain, approved):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    response = propose(client, approved)
    text = page_text(response)
    assert response.status_code == 200
    assert len(re.findall(r"<td>\d</td>", text)) == 3  # three numbered sessions
    first_day = TOMORROW.strftime("%a %d %b %Y")
    assert first_day in text
    assert "08:00–10:00" in text  # the site opens at 08:00 local: the first slot, in local time
    assert chain.infusion_room.name in text
    assert chain.clinician.name in text
    assert 'id="book-course"' in text


def test_book_course_books_the_proposal_audits_it_and_shows_the_timeline(
    client, auth, chain, approved
):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    fields = book_form(page_text(propose(client, approved)))
    response = client.post(f"{URL}course/book/", data=fields)

    assert response.status_code == 302
    assert count(Appointment) == 3
    assert db.session.get(Referral, approved.id).status == "treatment_scheduled"
    course_events = [e for e in events("Referral", "create") if "course of 3" in e.detail]
    assert len(course_events) == 1
    assert len(events("Appointment", "create")) == 3
    page = page_text(client.get(f"{URL}details/?id={approved.id}"))
    assert page.count('class="list-group-item d-flex') == 3
    assert page.count('data-status="booked"') == 3
    assert "Course of 3 sessions booked." in page


def test_the_timeline_shows_each_sessions_status(client, auth, chain, session):
    referral = ReferralFactory(
        consult_location=chain.grn, treatment_location=chain.ind, status="in_treatment"
    )
    for n, status in enumerate(("completed", "no_show", "booked")):
        AppointmentFactory(
            room=chain.infusion_room,
            staff=chain.clinician,
            referral=referral,
            patient_ref=referral.patient_ref,
            starts_at=dt.datetime.combine(
                TOMORROW + dt.timedelta(days=2 * n - 6), dt.time(9), INDIANA
            ),
            status=status,
        )
    session.commit()
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    page = page_text(client.get(f"{URL}details/?id={referral.id}"))
    assert re.findall(r'data-status="(\w+)"', page) == ["completed", "no_show", "booked"]
    assert "09:00–11:00" in page  # local times


def test_a_refused_course_is_flashed_and_books_nothing(client, auth, chain, approved, session):
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    fields = book_form(page_text(propose(client, approved)))
    chain.infusion_room.capacity = 1
    AppointmentFactory(
        room=chain.infusion_room,
        staff=chain.clinician,
        starts_at=dt.datetime.fromisoformat(fields["starts_at"][1]),
        ends_at=dt.datetime.fromisoformat(fields["ends_at"][1]),
    )
    session.commit()
    response = client.post(f"{URL}course/book/", data=fields)
    assert "Course not booked: Session 1:" in page_text(client.get(response.headers["Location"]))
    assert count(Appointment) == 1


def test_a_regional_lead_may_see_a_proposal_but_not_book_it(client, auth, chain, approved):
    sign_in(auth, "regional_lead", regions=[chain.grn.region])
    text = page_text(propose(client, approved))
    assert 'id="book-course"' not in text
    response = client.post(
        f"{URL}course/book/",
        data={"id": approved.id, "external_id": "X-1", "room_id": chain.infusion_room.id},
    )
    assert response.status_code == 403
    assert count(Appointment) == 0


def test_no_course_available_is_flashed(client, auth, chain, approved, session):
    chain.infusion_room.active = False
    session.commit()
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    response = propose(client, approved)
    assert response.status_code == 302
    assert "No proposal:" in page_text(client.get(response.headers["Location"]))


def test_another_regions_referral_cannot_be_proposed_or_booked(client, auth, chain, session):
    from tests.factories import LocationFactory, RegionFactory

    far = LocationFactory(code="FAR", region=RegionFactory(code="FR", name="Far"))
    referral = ReferralFactory(consult_location=far, status="approved")
    session.commit()
    sign_in(auth, "ops_manager", regions=[chain.grn.region])
    assert propose(client, referral).status_code == 302
    client.post(f"{URL}course/book/", data={"id": referral.id})
    assert count(Appointment) == 0
    assert db.session.scalar(sa.select(Referral.status).where(Referral.id == referral.id)) == (
        "approved"
    )


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return app_config | {"WTF_CSRF_ENABLED": True}

    def test_book_course_without_the_csrf_token_is_refused(self, client, auth, chain, approved):
        sign_in(auth, "ops_manager", regions=[chain.grn.region])
        fields = book_form(page_text(propose(client, approved)))
        assert fields["csrf_token"][0]
        fields.pop("csrf_token")
        response = client.post(f"{URL}course/book/", data=fields)
        assert response.status_code in (400, 403)
        assert count(Appointment) == 0
        fields["csrf_token"] = book_form(page_text(propose(client, approved)))["csrf_token"]
        assert client.post(f"{URL}course/book/", data=fields).status_code == 302
        assert count(Appointment) == 3
