"""The booking rules, service-level (no HTTP): every refusal, reschedules, statuses, no-op PUTs."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.bookings.models import Appointment
from opsadmin.bookings.service import change_status, max_overlap
from opsadmin.errors import Conflict, InvalidInput, NotFound
from opsadmin.staff.models import Credential
from tests.bookings.conftest import CHICAGO, DAY, PAST_DAY, at
from tests.factories import ReferralFactory, licensed_clinician

pytestmark = pytest.mark.usefixtures("chain")


def refused(code: str, book, **fields) -> Conflict:
    with pytest.raises(Conflict) as caught:
        book(**fields)
    assert caught.value.code == code, caught.value.message
    return caught.value


def audit_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


# -- creating -----------------------------------------------------------------------------------


def test_booking_creates_an_appointment_stored_in_utc(book, chain):
    appointment, created = book(external_id="BK-1001")
    assert created
    assert appointment.external_id == "BK-1001"
    assert appointment.location_id == chain.grn.id
    assert appointment.starts_at == dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)
    assert appointment.status == "booked"


def test_past_dated_appointments_are_accepted(book):
    _, created = book(
        starts_at=at(dt.date(2026, 10, 6), "09:00"), ends_at=at(dt.date(2026, 10, 6), "10:00")
    )
    assert created


def test_consult_books_in_a_consult_room(book, chain):
    _, created = book(kind="consult", room_id=chain.consult.id)
    assert created


# -- rule refusals ------------------------------------------------------------------------------


def test_infusion_refused_in_a_consult_room(book, chain):
    refused("room_kind_mismatch", book, room_id=chain.consult.id)


def test_consult_refused_in_an_infusion_room(book):
    refused("room_kind_mismatch", book, kind="consult")


def test_follow_up_refused_in_an_infusion_room(book):
    refused("room_kind_mismatch", book, kind="follow_up")


def test_room_of_another_location_refused(book, chain):
    refused("room_not_at_location", book, room_id=chain.chi_infusion.id)


def test_booking_before_opening_refused(book):
    refused("outside_opening_hours", book, starts_at=at(DAY, "07:30"), ends_at=at(DAY, "09:00"))


def test_booking_spanning_two_days_refused_so_none_is_longer_than_a_day(book):
    # The overlap searches look back only LONGEST_APPOINTMENT; this rule is what makes it safe.
    next_day = DAY + dt.timedelta(days=1)
    refused(
        "outside_opening_hours", book, starts_at=at(DAY, "09:00"), ends_at=at(next_day, "10:00")
    )


def test_capacity_sees_an_appointment_that_began_hours_earlier(book):
    for n in range(3):
        book(external_id=f"LONG-{n}", starts_at=at(DAY, "08:00"), ends_at=at(DAY, "17:00"))
    refused("room_at_capacity", book, starts_at=at(DAY, "16:00"), ends_at=at(DAY, "16:30"))


def test_booking_running_past_closing_refused(book):
    refused("outside_opening_hours", book, starts_at=at(DAY, "17:00"), ends_at=at(DAY, "18:15"))


def test_booking_ending_exactly_at_closing_accepted(book):
    _, created = book(starts_at=at(DAY, "16:00"), ends_at=at(DAY, "18:00"))
    assert created


def test_booking_on_a_weekday_without_hours_refused(session, book, chain):
    chain.grn.opening_hours = [h for h in chain.grn.opening_hours if h.weekday != DAY.weekday()]
    session.commit()
    refused("outside_opening_hours", book)


def test_booking_on_a_location_holiday_refused(session, book, chain):
    from opsadmin.locations.models import LocationClosure

    session.add(LocationClosure(location=chain.grn, starts_on=DAY, ends_on=DAY, reason="Holiday"))
    session.commit()
    refused("location_closed", book)


def test_booking_during_room_maintenance_refused(session, book, chain):
    from opsadmin.rooms.models import RoomClosure

    session.add(
        RoomClosure(room=chain.infusion, starts_at=at(DAY, "10:30"), ends_at=at(DAY, "12:00"))
    )
    session.commit()
    refused("room_closed", book)
    _, created = book(starts_at=at(DAY, "12:00"), ends_at=at(DAY, "13:00"))
    assert created


def test_booking_an_inactive_room_refused(session, book, chain):
    chain.infusion.active = False
    session.commit()
    refused("room_closed", book)


def test_fourth_overlapping_infusion_refused_in_a_room_of_three(book):
    for n in range(3):
        book(patient_ref=f"P-{n}")
    error = refused("room_at_capacity", book)
    assert "3 of 3" in error.message


def test_capacity_counts_the_most_at_any_instant_not_all_overlapping(book):
    # 09–10, 10–11 and 09–11 ×2: at most 3 at any instant, so an 09–11 fourth is refused,
    # but two back-to-back chains of one chair leave room.
    book(starts_at=at(DAY, "09:00"), ends_at=at(DAY, "10:00"))
    book(starts_at=at(DAY, "10:00"), ends_at=at(DAY, "11:00"))
    book()
    _, created = book()
    assert created
    refused("room_at_capacity", book)


def test_appointment_ending_when_another_starts_does_not_overlap(book):
    for _ in range(3):
        book(starts_at=at(DAY, "09:00"), ends_at=at(DAY, "11:00"))
    _, created = book(starts_at=at(DAY, "11:00"), ends_at=at(DAY, "12:00"))
    assert created


def test_indiana_only_clinician_cannot_be_booked_in_illinois(book, chain):
    error = refused(
        "staff_not_eligible",
        book,
        location="CHI",
        room_id=chain.chi_infusion.id,
        starts_at=at(DAY, "09:00", CHICAGO),
        ends_at=at(DAY, "11:00", CHICAGO),
    )
    assert {"kind": "state_license", "state": "IL", "reason": "missing"} in error.errors["missing"]


def test_expired_acls_refuses_infusions_but_not_consults(session, book, chain):
    acls = session.scalar(
        sa.select(Credential).where(
            Credential.staff_id == chain.dr_in.id, Credential.kind == "acls"
        )
    )
    acls.issued_on, acls.expires_on = dt.date(2024, 1, 1), DAY - dt.timedelta(days=1)
    session.commit()
    refused("staff_not_eligible", book)
    _, created = book(kind="consult", room_id=chain.consult.id)
    assert created


def test_clinician_not_assigned_to_the_site_refused(session, book):
    stranger = licensed_clinician([], states=("IN",))
    session.commit()
    error = refused("staff_not_eligible", book, staff_id=stranger.id)
    assert error.errors["missing"] == [{"kind": "location", "reason": "not_assigned"}]


def test_site_with_expired_dea_registration_refuses_infusions(session, book, chain):
    registration = chain.grn.registrations[0]
    registration.expires_on = DAY - dt.timedelta(days=1)
    session.commit()
    refused("site_not_licensed", book)
    _, created = book(kind="consult", room_id=chain.consult.id)
    assert created


def test_site_without_dea_registration_refuses_infusions(session, book, chain):
    session.delete(chain.grn.registrations[0])
    session.commit()
    refused("site_not_licensed", book)


def test_dea_registration_of_another_state_does_not_license_the_site(session, book, chain):
    chain.grn.registrations[0].state = "IL"
    session.commit()
    refused("site_not_licensed", book)


def test_infusion_for_a_referral_asks_the_referral_service(session, book, chain, monkeypatch):
    from opsadmin.referrals import service as referrals

    referral = ReferralFactory(consult_location=chain.grn, status="received")
    session.commit()
    asked = []

    def refuse(session, referral, kind):
        asked.append((referral.id, kind))
        raise Conflict("not approved", code="referral_not_approved")

    monkeypatch.setattr(referrals, "check_referral_allows", refuse)
    refused("referral_not_approved", book, referral_id=referral.id)
    assert asked == [(referral.id, "infusion")]


def test_referral_service_hears_of_every_change_to_a_linked_appointment(
    session, book, chain, monkeypatch
):
    from opsadmin.referrals import service as referrals

    referral = ReferralFactory(consult_location=chain.grn, status="approved")
    session.commit()
    heard = []
    monkeypatch.setattr(referrals, "check_referral_allows", lambda *args: None)
    monkeypatch.setattr(
        referrals,
        "appointment_changed",
        lambda session, appointment, previous, previous_kind=None: heard.append(
            (appointment.external_id, previous, appointment.status, previous_kind)
        ),
    )
    book(
        external_id="BK-R",
        referral_id=referral.id,
        starts_at=at(PAST_DAY, "09:00"),
        ends_at=at(PAST_DAY, "11:00"),
    )
    session.commit()
    change_status(session, "BK-R", "completed")
    session.commit()
    assert heard == [
        ("BK-R", None, "booked", None),
        ("BK-R", "booked", "completed", "infusion"),
    ]


# -- invalid input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"starts_at": dt.datetime(2026, 12, 1, 14, 0)}, "starts_at"),
        ({"starts_at": at(DAY, "09:00").replace(second=30)}, "starts_at"),
        ({"ends_at": at(DAY, "09:00")}, "ends_at"),
        ({"kind": "surgery"}, "kind"),
        ({"indication": "hiccups"}, "indication"),
        ({"status": "lost"}, "status"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(book, fields, field):
    with pytest.raises(InvalidInput) as caught:
        book(**fields)
    assert field in caught.value.errors


@pytest.mark.parametrize("field", ["room_id", "staff_id", "referral_id"])
def test_unknown_references_are_refused_with_the_field_named(book, field):
    with pytest.raises(InvalidInput) as caught:
        book(**{field: 999_999})
    assert field in caught.value.errors


def test_unknown_location_is_refused(book):
    with pytest.raises(InvalidInput) as caught:
        book(location="NOPE")
    assert "location" in caught.value.errors


# -- updating -----------------------------------------------------------------------------------


def test_identical_put_changes_nothing(session, book):
    first, _ = book(external_id="BK-7")
    updated_at = first.updated_at
    events = audit_count(session)
    again, created = book(external_id="BK-7")
    assert not created
    assert again.updated_at == updated_at
    assert audit_count(session) == events


def test_identical_put_with_another_offset_changes_nothing(session, book):
    book(external_id="BK-7")
    events = audit_count(session)
    utc = {
        "starts_at": at(DAY, "09:00").astimezone(dt.UTC),
        "ends_at": at(DAY, "11:00").astimezone(dt.UTC),
    }
    _, created = book(external_id="BK-7", **utc)
    assert not created
    assert audit_count(session) == events


def test_put_of_an_existing_id_reschedules_it(session, book):
    book(external_id="BK-7")
    moved, created = book(external_id="BK-7", starts_at=at(DAY, "13:00"), ends_at=at(DAY, "15:00"))
    assert not created
    assert moved.starts_at == at(DAY, "13:00")
    assert session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 1


def test_reschedule_does_not_count_against_itself(book):
    book(external_id="BK-A")
    book()
    book()
    _, created = book(external_id="BK-A", ends_at=at(DAY, "11:30"))
    assert not created


def test_reschedule_rechecks_capacity(book):
    for _ in range(3):
        book(starts_at=at(DAY, "13:00"), ends_at=at(DAY, "14:00"))
    book(external_id="BK-A")
    refused(
        "room_at_capacity",
        book,
        external_id="BK-A",
        starts_at=at(DAY, "13:00"),
        ends_at=at(DAY, "14:00"),
    )


def test_reschedule_rechecks_opening_hours(book):
    book(external_id="BK-A")
    refused("outside_opening_hours", book, external_id="BK-A", starts_at=at(DAY, "07:00"))


def test_reschedule_rechecks_eligibility(book, chain):
    book(external_id="BK-A")
    refused(
        "staff_not_eligible",
        book,
        external_id="BK-A",
        location="CHI",
        room_id=chain.chi_infusion.id,
        starts_at=at(DAY, "09:00", CHICAGO),
        ends_at=at(DAY, "11:00", CHICAGO),
    )


def test_changing_only_the_patient_ref_is_an_update(session, book):
    book(external_id="BK-A")
    events = audit_count(session)
    appointment, created = book(external_id="BK-A", patient_ref="P-2")
    assert not created and appointment.patient_ref == "P-2"
    assert audit_count(session) == events + 1


def test_completed_appointment_cannot_be_rescheduled(book):
    book(external_id="BK-A", status="completed", **PAST)
    refused(
        "invalid_transition",
        book,
        external_id="BK-A",
        status="completed",
        starts_at=at(PAST_DAY, "10:00"),
        ends_at=at(PAST_DAY, "11:00"),
    )


def test_put_cannot_revive_a_cancelled_appointment(book):
    book(external_id="BK-A")
    book(external_id="BK-A", status="cancelled")
    refused("invalid_transition", book, external_id="BK-A", status="booked")


# -- statuses -----------------------------------------------------------------------------------
PAST = {"starts_at": at(PAST_DAY, "09:00"), "ends_at": at(PAST_DAY, "11:00")}


def _status(session, external_id, status):
    session.commit()
    try:
        return change_status(session, external_id, status)
    finally:
        session.commit()


@pytest.mark.parametrize("start", ["booked", "checked_in"])
@pytest.mark.parametrize("target", ["checked_in", "completed", "no_show", "cancelled"])
def test_open_appointments_move_to_any_later_status(session, book, start, target):
    book(external_id="BK-S", status=start, **PAST)
    assert _status(session, "BK-S", target).status == target


@pytest.mark.parametrize("final", ["completed", "no_show", "cancelled"])
@pytest.mark.parametrize("target", ["booked", "checked_in", "completed", "no_show", "cancelled"])
def test_final_statuses_are_final(session, book, final, target):
    book(external_id="BK-S", status=final, **PAST)
    if target == final:
        assert _status(session, "BK-S", target).status == final
        return
    with pytest.raises(Conflict) as caught:
        _status(session, "BK-S", target)
    assert caught.value.code == "invalid_transition"


def test_checked_in_cannot_go_back_to_booked(session, book):
    book(external_id="BK-S", status="checked_in")
    with pytest.raises(Conflict) as caught:
        _status(session, "BK-S", "booked")
    assert caught.value.code == "invalid_transition"


def test_same_status_again_writes_nothing(session, book):
    book(external_id="BK-S")
    events = audit_count(session)
    _status(session, "BK-S", "booked")
    assert audit_count(session) == events


def test_status_of_an_unknown_appointment_is_not_found(session):
    with pytest.raises(NotFound):
        _status(session, "BK-NOPE", "cancelled")


def test_cancelling_frees_the_chair(session, book):
    for n in range(3):
        book(external_id=f"BK-{n}")
    refused("room_at_capacity", book)
    _status(session, "BK-0", "cancelled")
    _, created = book(external_id="BK-new")
    assert created


def test_no_show_still_holds_the_chair(session, book):
    for n in range(3):
        book(external_id=f"BK-{n}", **PAST)
    _status(session, "BK-0", "no_show")
    refused("room_at_capacity", book, **PAST)


def test_one_clinician_may_supervise_overlapping_chairs(book):
    for _ in range(3):
        _, created = book()
        assert created


# -- overlap arithmetic -------------------------------------------------------------------------


def _t(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=dt.UTC)


def test_max_overlap_treats_intervals_as_half_open():
    assert max_overlap([(_t(9), _t(10)), (_t(10), _t(11))], _t(9), _t(11)) == 1


def test_max_overlap_counts_only_inside_the_window():
    intervals = [(_t(9), _t(10)), (_t(9), _t(10)), (_t(10), _t(12))]
    assert max_overlap(intervals, _t(10), _t(11)) == 1
    assert max_overlap(intervals, _t(9, 30), _t(10, 30)) == 2
