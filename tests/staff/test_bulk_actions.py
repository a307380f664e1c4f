"""Bulk actions on the staff lists: mark credentials verified (who and when), deactivate staff.
Both go through the staff service, are audited as the signed-in user and stay in scope."""

from __future__ import annotations

import datetime as dt

from opsadmin.extensions import db
from opsadmin.staff.models import Credential, StaffMember
from tests.console_forms import events, page_text, sign_in
from tests.factories import CredentialFactory, LocationFactory, RegionFactory, StaffFactory

TODAY = dt.date.today()


def test_mark_verified_records_today_and_the_user_and_is_audited(client, auth):
    manager_region = RegionFactory(code="IN")
    here = StaffFactory(locations=[LocationFactory(region=manager_region)])
    elsewhere = StaffFactory(locations=[LocationFactory(region=RegionFactory(code="IL"))])
    mine = [
        CredentialFactory(staff=here, kind=k, state=None, verified_on=None) for k in ("acls", "bls")
    ]
    theirs = CredentialFactory(staff=elsewhere, kind="acls", state=None, verified_on=None)
    db.session.commit()
    user = sign_in(auth, "ops_manager", [manager_region])
    listed = page_text(client.get("/admin/credentials/"))
    assert "Mark verified" in listed
    response = client.post(
        "/admin/credentials/action/",
        data={"action": "mark_verified", "rowid": [str(c.id) for c in (*mine, theirs)]},
        follow_redirects=True,
    )
    assert "Marked 2 credential(s) verified." in page_text(response)
    db.session.expire_all()
    for credential in mine:
        row = db.session.get(Credential, credential.id)
        assert (row.verified_on, row.verified_by) == (TODAY, user.email)
    assert db.session.get(Credential, theirs.id).verified_on is None  # another region's
    audited = [e for e in events("Credential", "update") if "verified_by" in (e.changes or {})]
    assert {e.entity_id for e in audited} == {str(c.id) for c in mine}
    assert all(e.actor_label == user.email for e in audited)
    assert audited[0].changes["verified_by"] == ["credentialing@clinic.example.org", user.email]


def test_regional_lead_cannot_mark_verified(client, auth):
    region = RegionFactory(code="IN")
    credential = CredentialFactory(
        staff=StaffFactory(locations=[LocationFactory(region=region)]), verified_on=None
    )
    db.session.commit()
    sign_in(auth, "regional_lead", [region])
    response = client.post(
        "/admin/credentials/action/", data={"action": "mark_verified", "rowid": str(credential.id)}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Credential, credential.id).verified_on is None


def test_deactivate_staff_in_bulk_is_audited(client, auth):
    team = StaffFactory.create_batch(2)
    stays = StaffFactory()
    db.session.commit()
    user = sign_in(auth)
    assert "Deactivate" in page_text(client.get("/admin/staff/"))
    response = client.post(
        "/admin/staff/action/",
        data={"action": "deactivate", "rowid": [str(s.id) for s in team]},
        follow_redirects=True,
    )
    assert "Deactivated 2 staff member(s)." in page_text(response)
    db.session.expire_all()
    assert [db.session.get(StaffMember, s.id).active for s in (*team, stays)] == [
        False,
        False,
        True,
    ]
    audited = [e for e in events("StaffMember", "update") if "active" in (e.changes or {})]
    assert sorted(e.entity_id for e in audited) == sorted(str(s.id) for s in team)
    assert all(
        e.changes["active"] == [True, False] and e.actor_label == user.email for e in audited
    )
