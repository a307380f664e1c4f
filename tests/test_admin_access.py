"""Issue 2 acceptance 4: every console endpoint sends anonymous users to the login page, and a
regional lead can open none of the write endpoints (pages or POSTs)."""

from __future__ import annotations

from opsadmin.extensions import db
from tests.console_matrix import console_endpoints, violations
from tests.factories import LocationFactory, RoomFactory, UserFactory


def test_every_kind_of_console_endpoint_is_enumerated(app):
    kinds = {endpoint.kind for endpoint in console_endpoints(app)}
    expected = {"index_view", "create_view", "edit_view", "details_view", "delete_view"}
    assert expected | {"export", "ajax_lookup", "ajax_update", "action_view"} <= kinds
    views = {endpoint.view for endpoint in console_endpoints(app)}
    master_data = {"admin_regions", "admin_locations", "admin_rooms", "admin_staff"}
    assert master_data | {"admin_credentials", "admin_audit_log"} <= views


def test_anonymous_user_is_sent_to_login_from_every_console_endpoint(app, client):
    assert violations(client, app, "anonymous") == []


def test_regional_lead_cannot_write_anywhere_in_the_console(app, client, auth):
    location = LocationFactory()
    RoomFactory(location=location)
    lead = UserFactory(role="regional_lead", regions=[location.region])
    db.session.commit()
    auth.login(lead)
    assert violations(client, app, "regional_lead") == []
