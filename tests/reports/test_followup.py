"""The follow-up digest (DESIGN §5): stalled by stage, follow-ups due, funnel, credentials."""

from __future__ import annotations

import datetime as dt

import pytest

from opsadmin import models as m
from opsadmin.reports.followup import credential_changes, followup_for_region
from tests.factories import CredentialFactory, LocationFactory, ReferralFactory, StaffFactory

AS_OF = dt.date(2026, 11, 2)
WEEK = "2026-W44"


def ago(days: int) -> dt.datetime:
    return dt.datetime.combine(AS_OF, dt.time(), dt.UTC) - dt.timedelta(days=days)


@pytest.fixture
def site(session):
    location = LocationFactory(code="GRN", dea=AS_OF + dt.timedelta(days=30))
    session.flush()
    return location


def test_stalled_referrals_by_stage(session, site):
    old = ReferralFactory(consult_location=site, status="received", status_changed_at=ago(8))
    ReferralFactory(consult_location=site, status="received", status_changed_at=ago(2))
    consulted = ReferralFactory(
        consult_location=site, status="consulted", status_changed_at=ago(15)
    )
    treating = ReferralFactory(
        consult_location=site, status="in_treatment", status_changed_at=ago(1)
    )
    session.commit()
    stalled = followup_for_region(session, "IN", AS_OF, WEEK)["stalled"]
    assert stalled["received"] == [old.id]
    assert stalled["consulted"] == [consulted.id]
    assert stalled["in_treatment"] == [treating.id]  # no future session booked


def test_follow_ups_due_within_a_week_or_overdue(session, site):
    due = ReferralFactory(
        consult_location=site, status="completed", follow_up_due_on=AS_OF + dt.timedelta(days=5)
    )
    late = ReferralFactory(
        consult_location=site, status="completed", follow_up_due_on=AS_OF - dt.timedelta(days=1)
    )
    ReferralFactory(
        consult_location=site, status="completed", follow_up_due_on=AS_OF + dt.timedelta(days=30)
    )
    session.commit()
    items = followup_for_region(session, "IN", AS_OF, WEEK)["follow_ups"]
    assert [(i["referral_id"], i["overdue"]) for i in items] == [(late.id, True), (due.id, False)]


def test_funnel_counts_how_far_referrals_got_and_conversion(session, site):
    for status in ("received", "consulted", "approved", "in_treatment", "completed", "declined"):
        ReferralFactory(
            consult_location=site, status=status, received_on=AS_OF - dt.timedelta(days=10)
        )
    withdrawn = ReferralFactory(
        consult_location=site, status="withdrawn", received_on=AS_OF - dt.timedelta(days=5)
    )
    withdrawn.events.append(
        m.ReferralEvent(from_status="received", to_status="consulted", actor_type="system")
    )
    ReferralFactory(
        consult_location=site, status="completed", received_on=AS_OF - dt.timedelta(days=120)
    )
    session.commit()
    row = followup_for_region(session, "IN", AS_OF, WEEK)["funnel"][0]
    assert (row["received"], row["consulted"], row["approved"], row["started"], row["completed"]) == (
        7, 6, 3, 2, 1
    )  # fmt: skip
    assert row["conversion"] == round(2 / 6, 4)


def test_expiring_and_expired_credentials_name_the_clinician_and_their_sites(session, site):
    # Staff names are not patient data: the lead needs to know whose card lapsed.
    staff = StaffFactory(locations=[site], name="Dr Ada Byrne")
    soon = CredentialFactory(
        staff=staff, kind="acls", state=None, expires_on=AS_OF + dt.timedelta(days=20)
    )
    CredentialFactory(staff=staff, kind="bls", state=None, expires_on=AS_OF - dt.timedelta(days=3))
    renewed = CredentialFactory(
        staff=staff, kind="state_license", expires_on=AS_OF - dt.timedelta(days=3)
    )
    CredentialFactory(
        staff=staff, kind="state_license", number="NEW", expires_on=AS_OF + dt.timedelta(days=700)
    )
    session.commit()
    digest = followup_for_region(session, "IN", AS_OF, WEEK)
    flagged = {(c["kind"], c["status"]) for c in digest["staff_credentials"]}
    assert flagged == {("acls", "expiring"), ("bls", "expired")}
    assert soon.id in {c["credential_id"] for c in digest["staff_credentials"]}
    assert renewed.id not in {c["credential_id"] for c in digest["staff_credentials"]}
    assert [(s["location"], s["status"]) for s in digest["site_registrations"]] == [
        ("GRN", "expiring")
    ]
    by_kind = {c["kind"]: c for c in digest["staff_credentials"]}
    assert by_kind["acls"]["staff_name"] == "Dr Ada Byrne"
    assert by_kind["acls"]["sites"] == ["GRN"]
    assert (by_kind["acls"]["days_left"], by_kind["bls"]["days_left"]) == (20, -3)
    # The most urgent first: the lapsed card before the one still valid.
    assert [c["kind"] for c in digest["staff_credentials"]] == ["bls", "acls"]


def test_daily_changes_are_entering_the_window_or_expired_today(session, site):
    staff = StaffFactory(locations=[site])
    entering = CredentialFactory(
        staff=staff, kind="acls", state=None, expires_on=AS_OF + dt.timedelta(days=60)
    )
    CredentialFactory(staff=staff, kind="bls", state=None, expires_on=AS_OF + dt.timedelta(days=59))
    session.commit()
    changes = credential_changes(session, site.region, AS_OF)
    assert [(c["credential_id"], c["change"]) for c in changes["staff_credentials"]] == [
        (entering.id, "entering warning window")
    ]


def test_an_unverified_credential_is_flagged_as_unverified(session, site):
    staff = StaffFactory(locations=[site])
    CredentialFactory(
        staff=staff, kind="acls", state=None, verified_on=None, verified_by=None,
        expires_on=AS_OF + dt.timedelta(days=20),
    )  # fmt: skip
    session.commit()
    digest = followup_for_region(session, "IN", AS_OF, WEEK)
    assert [(c["kind"], c["status"]) for c in digest["staff_credentials"]] == [
        ("acls", "unverified")
    ]
