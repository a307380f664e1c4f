"""The referral service without HTTP: creation, the state machine, screening, stalled rule."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.service import Actor, acting_as
from opsadmin.errors import Conflict, InvalidInput, NotFound
from opsadmin.referrals import service
from opsadmin.referrals.models import REFERRAL_STATUSES, Referral, ReferralEvent, Screening
from opsadmin.referrals.service import ReferralRequest, ScreeningDecision
from opsadmin.staff.service import ensure_default_rules
from tests.factories import LocationFactory, ReferralFactory, StaffFactory, licensed_clinician


def request_for(**overrides) -> ReferralRequest:
    fields = dict(
        patient_ref="P-20931",
        indication="migraine",
        provider_name="Dr Neuro Logist",
        provider_npi="1234567893",
        provider_practice="Putnam Neurology",
        received_on=dt.date(2026, 11, 20),
        consult_location="GRN",
        treatment_location="IND",
    )
    fields.update(overrides)
    return ReferralRequest(**fields)


@pytest.fixture
def sites(session):
    return LocationFactory(code="GRN"), LocationFactory(code="IND")


@pytest.fixture
def physician(session):
    """A physician licensed in Indiana and working at GRN: eligible to decide its consults."""
    ensure_default_rules(session)
    return licensed_clinician([LocationFactory(code="GRN")], role="physician")


# -- NPI -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126"])
def test_npi_with_correct_check_digit_is_valid(npi):
    assert service.npi_is_valid(npi)


@pytest.mark.parametrize(
    "npi", ["1234567890", "123456789", "12345678930", "12345678a3", "１２３４５６７８９３"]
)
def test_npi_with_wrong_check_digit_or_shape_is_invalid(npi):
    assert not service.npi_is_valid(npi)


# -- creation ------------------------------------------------------------------------------------


def test_new_referral_is_received_with_its_creation_event(session, sites):
    with acting_as(Actor("api_key", 3, "booking system")):
        referral = service.create_referral(session, request_for())
    assert referral.status == "received"
    assert referral.consult_location.code == "GRN"
    assert referral.treatment_location.code == "IND"
    assert referral.planned_sessions == 6
    assert referral.sessions_completed == 0
    [event] = referral.events
    assert (event.from_status, event.to_status) == (None, "received")
    assert (event.actor_type, event.actor_id, event.actor_label) == ("api_key", 3, "booking system")


def test_referral_without_treatment_location_is_treated_where_consulted(session, sites):
    referral = service.create_referral(session, request_for(treatment_location=None))
    assert referral.treatment_location.code == "GRN"


def test_bad_referral_lists_every_bad_field_and_saves_nothing(session, sites):
    sites[1].active = False
    with pytest.raises(InvalidInput) as refused:
        service.create_referral(
            session,
            request_for(
                provider_npi="1234567890",
                consult_location="XXX",
                planned_sessions=0,
                patient_ref=" ",
                indication="anxiety",
            ),
        )
    errors = refused.value.errors
    assert set(errors) == {
        "referring_provider",
        "consult_location",
        "treatment_location",
        "planned_sessions",
        "patient_ref",
        "indication",
    }
    assert "npi" in errors["referring_provider"]
    assert session.scalar(sa.select(sa.func.count(Referral.id))) == 0


# -- the state machine ---------------------------------------------------------------------------


def _screening_for(to: str, physician) -> ScreeningDecision | None:
    return ScreeningDecision(decided_by=physician.id) if to in ("approved", "declined") else None


@pytest.mark.parametrize("from_status", REFERRAL_STATUSES)
def test_transition_follows_the_state_machine_table(session, physician, from_status):
    for to in REFERRAL_STATUSES:
        referral = ReferralFactory(status=from_status, consult_location=physician.locations[0])
        screening = _screening_for(to, physician)
        if to not in service.TRANSITIONS[from_status]:
            with pytest.raises(Conflict) as refused:
                service.transition(session, referral.id, to, screening=screening)
            assert refused.value.code == "invalid_transition"
            assert referral.status == from_status, to
            assert referral.events == [] and referral.screenings == []
            continue
        before = referral.status_changed_at
        service.transition(session, referral.id, to, "why", screening)
        assert referral.status == to
        assert referral.status_changed_at >= before
        [event] = referral.events
        assert (event.from_status, event.to_status, event.reason) == (from_status, to, "why")


def test_journey_table_matches_design():
    journey = [
        ("received", "consult_scheduled"),
        ("consult_scheduled", "consulted"),
        ("consulted", "approved"),
        ("consulted", "declined"),
        ("approved", "treatment_scheduled"),
        ("treatment_scheduled", "in_treatment"),
        ("in_treatment", "completed"),
        ("consult_scheduled", "received"),
    ]
    for from_status, to in journey:
        assert to in service.TRANSITIONS[from_status]
    for status in REFERRAL_STATUSES:
        assert ("withdrawn" in service.TRANSITIONS[status]) == (not service.is_final(status))


def test_transition_of_unknown_referral_is_not_found(session):
    with pytest.raises(NotFound):
        service.transition(session, 999, "withdrawn")


def test_transition_to_unknown_status_is_invalid_input(session):
    referral = ReferralFactory()
    with pytest.raises(InvalidInput) as refused:
        service.transition(session, referral.id, "teleported")
    assert "to" in refused.value.errors


def test_state_machine_is_checked_before_screening(session):
    referral = ReferralFactory(status="received")
    with pytest.raises(Conflict) as refused:
        service.transition(session, referral.id, "approved", screening=None)
    assert refused.value.code == "invalid_transition"


def test_transition_event_names_the_acting_user(session):
    referral = ReferralFactory(status="received")
    with acting_as(Actor("user", 42, "ops@example.org")):
        service.transition(session, referral.id, "withdrawn", "patient moved away")
    [event] = referral.events
    assert (event.actor_type, event.actor_id, event.actor_label) == ("user", 42, "ops@example.org")


def test_transition_event_without_actor_is_the_system(session):
    referral = ReferralFactory(status="received")
    service.transition(session, referral.id, "withdrawn")
    assert referral.events[0].actor_type == "system"


# -- screening -----------------------------------------------------------------------------------


def _refusal(session, referral, to="approved", **screening) -> str:
    with pytest.raises(InvalidInput) as refused:
        service.transition(session, referral.id, to, screening=screening or None)
    [message] = refused.value.errors["screening"]
    assert referral.status == "consulted" and referral.events == []
    return message


def test_approval_needs_a_screening(session):
    assert "screening" in _refusal(session, ReferralFactory(status="consulted"))


def test_decline_needs_a_screening(session):
    assert "screening" in _refusal(session, ReferralFactory(status="consulted"), to="declined")


@pytest.mark.parametrize("role", ["nurse_practitioner", "crna", "coordinator"])
def test_screening_decided_by_a_non_physician_is_refused(session, role):
    staff = StaffFactory(role=role)
    message = _refusal(session, ReferralFactory(status="consulted"), decided_by=staff.id)
    assert "physician" in message


def test_screening_decided_by_unknown_staff_is_refused(session):
    assert "physician" in _refusal(session, ReferralFactory(status="consulted"), decided_by=9999)


def test_screening_with_unknown_flag_is_refused(session, physician):
    message = _refusal(
        session,
        ReferralFactory(status="consulted", consult_location=physician.locations[0]),
        decided_by=physician.id,
        flags=["anxiety"],
    )
    assert "anxiety" in message


def test_approving_with_a_flag_needs_a_written_override(session, physician):
    message = _refusal(
        session,
        ReferralFactory(status="consulted", consult_location=physician.locations[0]),
        decided_by=physician.id,
        flags=["pregnancy"],
        override="   ",
    )
    assert "override" in message and "pregnancy" in message


def test_approving_with_a_flag_and_override_records_the_screening(session, physician):
    referral = ReferralFactory(status="consulted", consult_location=physician.locations[0])
    service.transition(
        session,
        referral.id,
        "approved",
        "benefit outweighs risk",
        {
            "flags": ["pregnancy", "pregnancy"],
            "decided_by": physician.id,
            "override": "OB consulted",
        },
    )
    assert referral.status == "approved"
    [screening] = referral.screenings
    assert screening.flags == ["pregnancy"]
    assert (screening.decision, screening.decided_by_id) == ("approved", physician.id)
    assert screening.override == "OB consulted"


def test_declining_with_flags_needs_no_override(session, physician):
    referral = ReferralFactory(status="consulted", consult_location=physician.locations[0])
    service.transition(
        session,
        referral.id,
        "declined",
        screening={"flags": ["active_psychosis"], "decided_by": physician.id},
    )
    assert referral.status == "declined"
    assert referral.screenings[0].decision == "declined"


def test_screening_on_a_withdrawal_is_refused(session, physician):
    referral = ReferralFactory(status="consulted", consult_location=physician.locations[0])
    with pytest.raises(InvalidInput) as refused:
        service.transition(
            session, referral.id, "withdrawn", screening={"decided_by": physician.id}
        )
    assert "screening" in refused.value.errors
    assert session.scalar(sa.select(sa.func.count(Screening.id))) == 0


def test_allowed_transitions_are_listed_in_journey_order(session):
    referral = ReferralFactory(status="consulted")
    assert service.allowed_transitions(referral) == ["approved", "declined", "withdrawn"]


def test_event_count_matches_changes(session, physician):
    referral = ReferralFactory(status="consulted", consult_location=physician.locations[0])
    service.transition(session, referral.id, "approved", screening={"decided_by": physician.id})
    service.transition(session, referral.id, "withdrawn")
    events = session.scalars(sa.select(ReferralEvent).order_by(ReferralEvent.id)).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        ("consulted", "approved"),
        ("approved", "withdrawn"),
    ]


def test_screening_by_a_physician_not_licensed_for_the_consult_site_is_refused(session):
    ensure_default_rules(session)
    chicago = LocationFactory(code="CHI", state="IL", timezone="America/Chicago")
    indiana_only = licensed_clinician([chicago], states=("IN",), role="physician")
    referral = ReferralFactory(status="consulted", consult_location=chicago)
    message = _refusal(session, referral, decided_by=indiana_only.id)
    assert "state_license IL missing" in message
