"""Treatment courses through the API: all or none, every booking rule per session, spacing, and the
referral's automatic moves exactly as single bookings make them."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.bookings.models import Appointment
from opsadmin.db import Base
from opsadmin.referrals.models import Referral, ReferralEvent
from tests.bookings.conftest import DAY, at
from tests.factories import TODAY, AppointmentFactory, ReferralFactory

PROBLEM = "application/problem+json"


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write")


@pytest.fixture
def referral(session, chain):
    referral = ReferralFactory(consult_location=chain.grn, status="approved", patient_ref="P-7001")
    session.commit()
    return referral


def sessions(chain, days, start="09:00", end="11:00", room=None, prefix="C"):
    return [
        {
            "external_id": f"{prefix}-{n}",
            "room_id": (room or chain.infusion).id,
            "staff_id": chain.dr_in.id,
            "starts_at": at(day, start).isoformat(),
            "ends_at": at(day, end).isoformat(),
        }
        for n, day in enumerate(days)
    ]


def every_other_day(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=2 * n) for n in range(count)]


def post_course(client, headers, referral_id, body_sessions):
    return client.post(
        f"/api/v1/referrals/{referral_id}/course", json={"sessions": body_sessions}, headers=headers
    )


def count(session, table) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(table))


def row_counts(session) -> dict[str, int]:
    """Every table's row count: a refused course must leave each exactly as it was."""
    return {table.name: count(session, table) for table in Base.metadata.sorted_tables}


def test_six_session_course_books_six_infusions_and_schedules_the_referral(
    client, headers, session, chain, referral
):
    # Acceptance 1, first half: one call, six ordinary appointments, the referral moved once.
    first = TODAY - dt.timedelta(days=14)  # past sessions, so they can be completed below
    response = post_course(client, headers, referral.id, sessions(chain, every_other_day(first, 6)))

    assert response.status_code == 201, response.json
    body = response.json
    assert body["referral_id"] == referral.id
    assert [a["external_id"] for a in body["appointments"]] == [f"C-{n}" for n in range(6)]
    for appointment in body["appointments"]:
        assert appointment["kind"] == "infusion"
        assert appointment["referral_id"] == referral.id
        assert appointment["patient_ref"] == "P-7001"
        assert appointment["indication"] == referral.indication
        assert appointment["location"] == "GRN"
        assert appointment["status"] == "booked"
    assert count(session, Appointment.__table__) == 6
    moved = session.get(Referral, referral.id)
    assert moved.status == "treatment_scheduled"
    assert [e.to_status for e in moved.events][-1:] == ["treatment_scheduled"]


def test_completing_a_booked_course_moves_the_referral_through_treatment_to_completed(
    client, headers, session, chain, referral
):
    # Acceptance 1, second half: the course's appointments drive the referral like single ones.
    first = TODAY - dt.timedelta(days=14)
    assert (
        post_course(
            client, headers, referral.id, sessions(chain, every_other_day(first, 6))
        ).status_code
        == 201
    )

    statuses = []
    for n in range(6):
        answer = client.patch(
            f"/api/v1/appointments/C-{n}", json={"status": "completed"}, headers=headers
        )
        assert answer.status_code == 200, answer.json
        session.rollback()
        statuses.append(session.get(Referral, referral.id).status)

    assert statuses == ["in_treatment"] * 5 + ["completed"]
    done = session.get(Referral, referral.id)
    assert done.sessions_completed == 6
    assert done.follow_up_due_on == first + dt.timedelta(days=10 + 14)
    assert [e.to_status for e in done.events][-3:] == [
        "treatment_scheduled",
        "in_treatment",
        "completed",
    ]


def test_a_course_whose_fourth_session_hits_a_full_room_leaves_nothing_behind(
    client, headers, session, chain, referral
):
    # Acceptance 2: the room is full at the fourth session's time; nothing of the course stays.
    days = every_other_day(DAY, 6)
    for n in range(3):
        AppointmentFactory(
            room=chain.infusion,
            staff=chain.dr_in,
            patient_ref=f"P-OTHER-{n}",
            starts_at=at(days[3], "08:30"),
            ends_at=at(days[3], "10:30"),
        )
    session.commit()
    before = row_counts(session)

    response = post_course(client, headers, referral.id, sessions(chain, days))

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert response.json["code"] == "room_at_capacity"
    assert response.json["session"] == 3
    assert row_counts(session) == before
    assert count(session, Appointment.__table__) == 3
    assert session.get(Referral, referral.id).status == "approved"


def test_a_refused_session_answers_its_own_rule_code_and_index(
    client, headers, session, chain, referral
):
    body = sessions(chain, every_other_day(DAY, 3))
    body[1]["starts_at"] = at(DAY + dt.timedelta(days=2), "17:00").isoformat()
    body[1]["ends_at"] = at(DAY + dt.timedelta(days=2), "19:00").isoformat()  # closes at 18:00

    response = post_course(client, headers, referral.id, body)

    assert response.status_code == 409
    assert (response.json["code"], response.json["session"]) == ("outside_opening_hours", 1)
    assert count(session, Appointment.__table__) == 0


@pytest.mark.parametrize(
    ("second", "start"),
    [(DAY, "14:00"), (DAY + dt.timedelta(days=8), "09:00")],
    ids=["same-local-day", "eight-days-apart"],
)
def test_sessions_on_one_local_day_or_eight_days_apart_are_course_spacing(
    client, headers, session, chain, referral, second, start
):
    # Acceptance 3.
    body = sessions(chain, [DAY, second])
    body[1]["starts_at"] = at(second, start).isoformat()
    body[1]["ends_at"] = (at(second, start) + dt.timedelta(hours=2)).isoformat()

    response = post_course(client, headers, referral.id, body)

    assert response.status_code == 422
    assert response.json["code"] == "course_spacing"
    assert response.json["session"] == 1
    assert count(session, Appointment.__table__) == 0


def test_sessions_seven_days_apart_are_allowed(client, headers, chain, referral):
    response = post_course(
        client, headers, referral.id, sessions(chain, [DAY, DAY + dt.timedelta(days=7)])
    )
    assert response.status_code == 201, response.json


def test_spacing_counts_local_days_not_hours(client, headers, chain, referral):
    # 16:00 one day and 08:00 the next are 16 hours apart, yet on different local days.
    body = sessions(chain, [DAY, DAY + dt.timedelta(days=1)])
    body[0]["starts_at"], body[0]["ends_at"] = (
        at(DAY, "16:00").isoformat(),
        at(DAY, "18:00").isoformat(),
    )
    body[1]["starts_at"], body[1]["ends_at"] = (
        at(DAY + dt.timedelta(days=1), "08:00").isoformat(),
        at(DAY + dt.timedelta(days=1), "10:00").isoformat(),
    )
    assert post_course(client, headers, referral.id, body).status_code == 201


def test_the_max_gap_is_configuration(app, client, headers, chain, referral):
    app.config["OPSADMIN_COURSE_MAX_GAP_DAYS"] = 3
    response = post_course(
        client, headers, referral.id, sessions(chain, [DAY, DAY + dt.timedelta(days=4)])
    )
    assert (response.status_code, response.json["code"]) == (422, "course_spacing")


@pytest.mark.parametrize("status", ["received", "consulted", "declined", "completed", "withdrawn"])
def test_a_course_needs_the_referral_approved_or_in_treatment(
    client, headers, session, chain, status
):
    referral = ReferralFactory(consult_location=chain.grn, status=status)
    session.commit()
    response = post_course(client, headers, referral.id, sessions(chain, [DAY]))
    assert (response.status_code, response.json["code"]) == (409, "referral_not_approved")


def test_a_referral_in_treatment_may_book_the_rest_of_its_course(client, headers, session, chain):
    referral = ReferralFactory(consult_location=chain.grn, status="in_treatment")
    session.commit()
    response = post_course(client, headers, referral.id, sessions(chain, every_other_day(DAY, 3)))
    assert response.status_code == 201
    assert session.get(Referral, referral.id).status == "in_treatment"


def test_an_existing_external_id_is_a_duplicate_session(client, headers, session, chain, referral):
    AppointmentFactory(
        external_id="C-1", room=chain.infusion, staff=chain.dr_in, starts_at=at(DAY, "12:00")
    )
    session.commit()
    response = post_course(client, headers, referral.id, sessions(chain, every_other_day(DAY, 3)))
    assert response.status_code == 409
    assert (response.json["code"], response.json["session"]) == ("duplicate", 1)
    assert count(session, Appointment.__table__) == 1


def test_an_unknown_referral_is_404(client, headers, chain):
    response = post_course(client, headers, 999_999, sessions(chain, [DAY]))
    assert (response.status_code, response.json["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "change",
    [
        {"starts_at": "2026-12-01T09:00:00"},  # naive
        {"ends_at": at(DAY, "08:00").isoformat()},  # before the start
        {"kind": "consult"},  # the course decides the kind
    ],
    ids=["naive", "end-before-start", "unknown-field"],
)
def test_a_bad_session_is_422_under_its_index(client, headers, chain, referral, change):
    body = sessions(chain, [DAY])
    body[0].update(change)
    response = post_course(client, headers, referral.id, body)
    assert response.status_code == 422
    assert "sessions" in response.json["errors"]


def test_an_empty_course_is_422(client, headers, referral):
    response = post_course(client, headers, referral.id, [])
    assert response.status_code == 422
    assert "sessions" in response.json["errors"]


def test_booking_a_course_needs_the_write_scope(client, api_headers, chain, referral):
    response = post_course(client, api_headers("read"), referral.id, sessions(chain, [DAY]))
    assert response.status_code == 403


def test_a_refused_course_writes_no_referral_event_nor_audit_event(
    client, headers, session, chain, referral
):
    events, audits = count(session, ReferralEvent.__table__), count(session, AuditEvent.__table__)
    body = sessions(chain, every_other_day(DAY, 2))
    body[1]["staff_id"] = 999_999
    assert post_course(client, headers, referral.id, body).status_code == 422
    assert count(session, ReferralEvent.__table__) == events
    assert count(session, AuditEvent.__table__) == audits


def test_a_course_retried_with_its_idempotency_key_is_booked_once(
    client, headers, session, chain, referral
):
    body = {"sessions": sessions(chain, every_other_day(DAY, 3))}
    first = client.post(
        f"/api/v1/referrals/{referral.id}/course",
        json=body,
        headers=headers | {"Idempotency-Key": "course-41"},
    )
    again = client.post(
        f"/api/v1/referrals/{referral.id}/course",
        json=body,
        headers=headers | {"Idempotency-Key": "course-41"},
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert count(session, Appointment.__table__) == 3
