"""The moves appointments drive (the booking service's hooks) and the stalled rule."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.service import Actor, acting_as
from opsadmin.db import utcnow
from opsadmin.errors import Conflict
from opsadmin.referrals import service
from opsadmin.referrals.models import Referral
from tests.factories import AppointmentFactory, LocationFactory, ReferralFactory, RoomFactory

NOW = utcnow()


def appointment(referral, kind="infusion", status="booked", starts_at=None, **kwargs):
    room = RoomFactory(
        location=referral.treatment_location if kind == "infusion" else referral.consult_location,
        kind="infusion" if kind == "infusion" else "consult",
    )
    starts_at = starts_at or NOW + dt.timedelta(days=1)
    return AppointmentFactory(
        room=room, kind=kind, status=status, referral=referral, starts_at=starts_at, **kwargs
    )


def change(session, appt, status):
    previous = appt.status
    appt.status = status
    service.appointment_changed(session, appt, previous, appt.kind)


def book(session, referral, kind="infusion", status="booked", **kwargs):
    appt = appointment(referral, kind=kind, status=status, **kwargs)
    service.appointment_changed(session, appt, None)
    return appt


def moves(referral) -> list[tuple[str | None, str]]:
    return [(e.from_status, e.to_status) for e in referral.events]


# -- check_referral_allows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["received", "consult_scheduled", "consulted", "declined", "withdrawn"]
)
def test_infusion_refused_for_a_referral_not_approved(session, status):
    referral = ReferralFactory(status=status)
    with pytest.raises(Conflict) as refused:
        service.check_referral_allows(session, referral, "infusion")
    assert refused.value.code == "referral_not_approved"


@pytest.mark.parametrize("status", ["approved", "treatment_scheduled", "in_treatment", "completed"])
def test_infusion_allowed_once_approved(session, status):
    service.check_referral_allows(session, ReferralFactory(status=status), "infusion")


def test_consult_allowed_for_a_new_referral(session):
    service.check_referral_allows(session, ReferralFactory(), "consult")


# -- consults ------------------------------------------------------------------------------------


def test_booking_the_consult_schedules_it(session):
    referral = ReferralFactory()
    book(session, referral, "consult")
    assert referral.status == "consult_scheduled"
    [event] = referral.events
    assert event.reason.startswith("automatic: consult booked")


def test_completing_the_consult_makes_it_consulted(session):
    referral = ReferralFactory()
    consult = book(session, referral, "consult")
    change(session, consult, "checked_in")
    assert referral.status == "consult_scheduled"
    change(session, consult, "completed")
    assert moves(referral) == [
        ("received", "consult_scheduled"),
        ("consult_scheduled", "consulted"),
    ]


def test_cancelling_the_consult_moves_it_back_to_received(session):
    referral = ReferralFactory()
    consult = book(session, referral, "consult")
    change(session, consult, "cancelled")
    assert referral.status == "received"
    assert moves(referral)[-1] == ("consult_scheduled", "received")


def test_a_missed_consult_moves_it_back_to_received(session):
    referral = ReferralFactory()
    consult = book(session, referral, "consult")
    change(session, consult, "no_show")
    assert referral.status == "received"


def test_cancelling_one_of_two_consults_keeps_it_scheduled(session):
    referral = ReferralFactory()
    first = book(session, referral, "consult")
    book(session, referral, "consult")
    change(session, first, "cancelled")
    assert referral.status == "consult_scheduled"
    assert len(referral.events) == 1


def test_a_consult_reclassified_as_follow_up_counts_as_cancelled(session):
    referral = ReferralFactory()
    consult = book(session, referral, "consult")
    consult.kind = "follow_up"
    service.appointment_changed(session, consult, "booked", "consult")
    assert referral.status == "received"


def test_a_follow_up_does_not_undo_a_manually_scheduled_consult(session):
    referral = ReferralFactory(status="consult_scheduled")
    book(session, referral, "follow_up")
    assert referral.status == "consult_scheduled"


def test_a_backfilled_completed_consult_takes_both_steps(session):
    referral = ReferralFactory()
    book(session, referral, "consult", status="completed", starts_at=NOW - dt.timedelta(days=2))
    assert moves(referral) == [
        ("received", "consult_scheduled"),
        ("consult_scheduled", "consulted"),
    ]


def test_a_consult_for_an_approved_referral_moves_nothing(session):
    referral = ReferralFactory(status="approved")
    book(session, referral, "consult")
    assert referral.status == "approved" and referral.events == []


# -- infusions -----------------------------------------------------------------------------------


def test_booking_the_first_infusion_schedules_treatment(session):
    referral = ReferralFactory(status="approved")
    book(session, referral)
    book(session, referral)
    assert referral.status == "treatment_scheduled"
    assert moves(referral) == [("approved", "treatment_scheduled")]


def test_completing_infusions_walks_to_completed_with_follow_up_due(session):
    referral = ReferralFactory(status="approved", planned_sessions=3)
    start = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    infusions = [book(session, referral, starts_at=start + dt.timedelta(days=i)) for i in range(3)]
    change(session, infusions[0], "completed")
    assert (referral.status, referral.sessions_completed) == ("in_treatment", 1)
    change(session, infusions[1], "completed")
    assert (referral.status, referral.sessions_completed) == ("in_treatment", 2)
    change(session, infusions[2], "completed")
    assert (referral.status, referral.sessions_completed) == ("completed", 3)
    assert referral.follow_up_due_on == dt.date(2026, 3, 4) + dt.timedelta(days=14)
    assert moves(referral) == [
        ("approved", "treatment_scheduled"),
        ("treatment_scheduled", "in_treatment"),
        ("in_treatment", "completed"),
    ]


def test_follow_up_due_counts_from_the_treatment_sites_local_date(session, app):
    app.config["OPSADMIN_FOLLOW_UP_DAYS"] = 10
    # 02:30 UTC on 5 March is still 4 March in Indianapolis (UTC-5).
    referral = ReferralFactory(status="in_treatment", planned_sessions=1)
    late = dt.datetime(2026, 3, 5, 2, 30, tzinfo=dt.UTC)
    infusion = book(session, referral, starts_at=late)
    change(session, infusion, "completed")
    assert referral.follow_up_due_on == dt.date(2026, 3, 14)


def test_no_show_infusions_do_not_count_as_sessions(session):
    referral = ReferralFactory(status="approved", planned_sessions=2)
    first, second = book(session, referral), book(session, referral)
    change(session, first, "no_show")
    change(session, second, "completed")
    assert (referral.status, referral.sessions_completed) == ("in_treatment", 1)


def test_repeating_the_hook_changes_nothing(session):
    referral = ReferralFactory(status="approved")
    infusion = book(session, referral, status="completed")
    events = len(referral.events)
    service.appointment_changed(session, infusion, "completed", "infusion")
    assert len(referral.events) == events


def test_an_appointment_without_referral_moves_nothing(session):
    referral = ReferralFactory(status="approved")
    appt = AppointmentFactory()
    service.appointment_changed(session, appt, None)
    assert referral.events == []


def test_automatic_moves_name_the_calling_actor(session):
    referral = ReferralFactory()
    with acting_as(Actor("api_key", 7, "booking system")):
        book(session, referral, "consult")
    [event] = referral.events
    assert (event.actor_type, event.actor_id) == ("api_key", 7)


def test_withdrawn_referral_is_not_revived_by_appointments(session):
    referral = ReferralFactory(status="withdrawn")
    book(session, referral, "consult", status="completed")
    assert referral.status == "withdrawn"


# -- stalled -------------------------------------------------------------------------------------


def stalled_ids(session, as_of=None) -> set[int]:
    query = sa.select(Referral.id).where(service.stalled_filter(as_of))
    return set(session.scalars(query))


def since(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("status", "stalled_after"),
    [("received", 7), ("consulted", 14), ("approved", 14)],
)
def test_referral_stalls_after_its_stage_threshold(session, status, stalled_after):
    fresh = ReferralFactory(status=status, status_changed_at=since(stalled_after - 0.5))
    stale = ReferralFactory(status=status, status_changed_at=since(stalled_after + 0.5))
    assert stalled_ids(session) == {stale.id}
    assert fresh.id not in stalled_ids(session)


@pytest.mark.parametrize(
    "status", ["consult_scheduled", "treatment_scheduled", "completed", "declined", "withdrawn"]
)
def test_other_stages_never_stall_on_age(session, status):
    ReferralFactory(status=status, status_changed_at=since(400))
    assert stalled_ids(session) == set()


def test_in_treatment_without_a_future_session_is_stalled(session):
    waiting = ReferralFactory(status="in_treatment")
    appointment(waiting, status="completed", starts_at=since(3))
    appointment(waiting, status="cancelled", starts_at=NOW + dt.timedelta(days=2))
    going = ReferralFactory(status="in_treatment")
    appointment(going, status="booked", starts_at=NOW + dt.timedelta(days=2))
    assert stalled_ids(session) == {waiting.id}


def test_stalled_thresholds_come_from_configuration(session, app):
    app.config["OPSADMIN_STALLED_RECEIVED_DAYS"] = 2
    referral = ReferralFactory(status="received", status_changed_at=since(3))
    assert stalled_ids(session) == {referral.id}


def test_stalled_is_judged_as_of_a_given_instant(session):
    referral = ReferralFactory(status="received", status_changed_at=since(3))
    assert stalled_ids(session) == set()
    assert stalled_ids(session, NOW + dt.timedelta(days=5)) == {referral.id}


def test_settings_fall_back_to_defaults_outside_an_app():
    assert service.setting("OPSADMIN_FOLLOW_UP_DAYS") == 14


def test_other_sites_referrals_share_the_filter(session):
    ReferralFactory(
        status="received", status_changed_at=since(30), consult_location=LocationFactory()
    )
    assert len(stalled_ids(session)) == 1
