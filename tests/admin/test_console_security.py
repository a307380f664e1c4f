"""Console hardening (issue 6 acceptance 2 and 3): headers, CSRF, scoping by ?id=, export and ajax
lookup, escaping, formula cells, users and API keys."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from opsadmin.audit.models import AuditEvent
from opsadmin.auth.models import ApiKey, ConsoleSession, User
from opsadmin.console import SecureModelView, neutralise_cell
from opsadmin.extensions import db
from opsadmin.locations.models import Location
from opsadmin.rooms.models import Room
from tests.factories import LocationFactory, RegionFactory, RoomFactory, UserFactory

pytestmark = pytest.mark.fresh_app


class AjaxRoomView(SecureModelView):
    """A view with an ajax relation lookup (no feature view has one yet)."""

    region_column = Location.region_id
    scope_joins = (Room.location,)
    form_ajax_refs = {"location": {"fields": ("code", "name")}}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True, "OPSADMIN_EXPORT_MAX_ROWS": 3}


@pytest.fixture
def app(app):
    app.extensions["opsadmin_admin"].add_view(
        AjaxRoomView(Room, db, name="Ajax rooms", endpoint="h6_ajax_rooms", url="h6-ajax-rooms")
    )
    return app


@pytest.fixture
def two_regions():
    north = LocationFactory(code="NTH", name="North site", region=RegionFactory(code="A"))
    south = LocationFactory(code="STH", name="South site", region=RegionFactory(code="B"))
    db.session.commit()
    return north, south


def token_of(client, path):
    match = re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', client.get(path).text
    )
    if match is None:
        match = re.search(
            r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"',
            client.get(path).text,
        )
    return match.group(1)


def manager_of(location, auth, role="ops_manager"):
    user = UserFactory(role=role, regions=[location.region])
    db.session.commit()
    assert auth.login(user).status_code == 303
    return user


# -- headers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/login", "/admin/"])
def test_console_responses_carry_csp_with_nonce_and_security_headers(client, auth, path):
    auth.login(UserFactory(role="ops_manager"))
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_every_console_script_carries_the_page_nonce(client, auth, two_regions):
    auth.login(UserFactory(role="admin"))
    response = client.get("/admin/locations/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts)


def test_hsts_outside_development(app_config):
    from opsadmin.app import create_app

    production = create_app({**app_config, "TESTING": False, "ENV": "production"})
    response = production.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# -- CSRF ----------------------------------------------------------------------------------------
def test_console_post_without_csrf_token_is_refused(client, auth, two_regions):
    north, _ = two_regions
    auth.login(UserFactory(role="admin"))
    refused = client.post("/admin/locations/delete/", data={"id": str(north.id)})
    assert refused.status_code == 400
    assert db.session.get(Location, north.id) is not None
    allowed = client.post(
        "/admin/locations/delete/",
        data={"id": str(north.id), "csrf_token": token_of(client, "/admin/locations/")},
    )
    assert allowed.status_code == 302
    db.session.expire_all()
    assert db.session.get(Location, north.id) is None


def test_api_is_exempt_from_csrf(client):
    # No cookie and no token: the API answers for its Bearer key, not with a CSRF refusal.
    response = client.post("/api/v1/referrals", json={})
    assert response.status_code == 401


def test_no_state_change_via_get(client, auth, two_regions):
    north, _ = two_regions
    auth.login(UserFactory(role="admin"))
    client.get(f"/admin/locations/delete/?id={north.id}")
    assert client.get("/logout").status_code == 405
    assert db.session.get(Location, north.id) is not None


# -- scoping -------------------------------------------------------------------------------------
def test_other_regions_row_refused_by_typed_id(client, auth, two_regions):
    north, south = two_regions
    manager_of(north, auth)
    for page in ("details", "edit"):
        response = client.get(f"/admin/locations/{page}/?id={south.id}", follow_redirects=True)
        assert "South site" not in response.text
    assert "North site" in client.get(f"/admin/locations/details/?id={north.id}").text
    assert client.get("/admin/locations/details/?id=abc").status_code in (302, 404)
    client.post(
        "/admin/locations/delete/",
        data={"id": str(south.id), "csrf_token": token_of(client, "/admin/locations/")},
    )
    assert db.session.get(Location, south.id) is not None


def test_export_is_scoped_capped_neutralised_and_audited(client, auth, two_regions):
    north, south = two_regions
    for n in range(4):
        LocationFactory(code=f"N{n}", name=f'=HYPERLINK("http://x","{n}")', region=north.region)
    db.session.commit()
    user = manager_of(north, auth)
    response = client.get("/admin/locations/export/csv/")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    body = rows[1:]
    assert len(body) == 3  # OPSADMIN_EXPORT_MAX_ROWS
    assert "South site" not in response.text
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)
    assert any(cell.startswith("'=HYPERLINK") for row in body for cell in row)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "export"))
    assert event.actor_id == user.id and event.changes["rows"] == 3 and event.entity == "Location"


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_prefixed(value):
    assert neutralise_cell(value) == "'" + value
    assert neutralise_cell("plain") == "plain" and neutralise_cell(3) == 3


def test_ajax_lookup_offers_only_own_regions_rows(client, auth, two_regions):
    north, south = two_regions
    RoomFactory(location=north)
    manager_of(north, auth)
    response = client.get("/admin/h6-ajax-rooms/ajax/lookup/?name=location&query=site")
    found = {label for _pk, label in response.get_json()}
    assert any("North" in label or "NTH" in label for label in found)
    assert not any("South" in label or "STH" in label for label in found)


def test_relation_choices_list_only_own_regions_rows(client, auth, two_regions):
    north, _ = two_regions
    manager_of(north, auth)
    page = client.get("/admin/h6-ajax-rooms/new/").text + client.get("/admin/rooms/new/").text
    assert "STH" not in page and "South site" not in page


def test_ops_manager_cannot_save_a_room_into_another_region(client, auth, two_regions):
    north, south = two_regions
    room = RoomFactory(location=north, name="Chair bay")
    db.session.commit()
    manager_of(north, auth)
    client.post(
        f"/admin/rooms/edit/?id={room.id}",
        data={
            "location": str(south.id),
            "name": "Chair bay",
            "kind": "infusion",
            "capacity": "2",
            "active": "y",
            "csrf_token": token_of(client, f"/admin/rooms/edit/?id={room.id}"),
        },
    )
    db.session.expire_all()
    assert db.session.get(Room, room.id).location_id == north.id


def test_regional_lead_reads_but_cannot_write(client, auth, two_regions):
    north, _ = two_regions
    manager_of(north, auth, role="regional_lead")
    listing = client.get("/admin/locations/")
    assert listing.status_code == 200 and "North site" in listing.text
    assert "/admin/locations/new/" not in listing.text  # no button it would be refused
    assert client.get("/admin/locations/new/").status_code == 403


def test_manager_without_region_sees_no_rows(client, auth, two_regions):
    user = UserFactory(role="ops_manager")
    db.session.commit()
    auth.login(user)
    listing = client.get("/admin/locations/")
    assert "North site" not in listing.text and "South site" not in listing.text


# -- escaping ------------------------------------------------------------------------------------
def test_stored_script_is_rendered_escaped(client, auth, two_regions):
    north, _ = two_regions
    north.name = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    db.session.commit()
    auth.login(UserFactory(role="admin"))
    for path in (
        "/admin/locations/",
        f"/admin/locations/details/?id={north.id}",
        f"/admin/locations/edit/?id={north.id}",
    ):
        text = client.get(path).text
        assert "<script>alert(1)" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;alert(1)" in text, path


# -- users and API keys --------------------------------------------------------------------------
def test_only_admins_open_users_and_api_keys(client, auth, two_regions):
    manager_of(two_regions[0], auth)
    assert client.get("/admin/users/").status_code == 403
    assert client.get("/admin/api-keys/").status_code == 403


def test_admin_creates_a_user_with_the_password_rule(client, auth, two_regions):
    north, _ = two_regions
    auth.login(UserFactory(role="admin"))
    form = {
        "email": "New.Manager@ops.example.org",
        "role": "ops_manager",
        "regions": str(north.region.id),
        "active": "y",
        "password": "short",
    }
    client.post(
        "/admin/users/new/", data={**form, "csrf_token": token_of(client, "/admin/users/new/")}
    )
    assert (
        db.session.scalar(sa.select(User).where(User.email == "new.manager@ops.example.org"))
        is None
    )
    form["password"] = "a long enough passphrase"
    client.post(
        "/admin/users/new/", data={**form, "csrf_token": token_of(client, "/admin/users/new/")}
    )
    created = db.session.scalar(sa.select(User).where(User.email == "new.manager@ops.example.org"))
    assert created.password_hash.startswith("$argon2id$") and created.regions == [north.region]


def test_disabling_a_user_in_the_console_ends_their_sessions(app, auth, two_regions):
    north, _ = two_regions
    target = UserFactory(role="ops_manager", regions=[north.region])
    db.session.commit()
    target_browser = app.test_client()
    from tests.conftest import Auth

    Auth(target_browser).login(target)
    assert target_browser.get("/admin/").status_code == 200
    admin_browser = auth.client
    auth.login(UserFactory(role="admin"))
    edit = f"/admin/users/edit/?id={target.id}"
    admin_browser.post(
        edit,
        data={
            "email": target.email,
            "role": "ops_manager",
            "regions": str(north.region.id),
            "password": "",
            "csrf_token": token_of(admin_browser, edit),
        },
    )
    db.session.expire_all()
    assert db.session.get(User, target.id).active is False
    rows = db.session.scalars(sa.select(ConsoleSession).where(ConsoleSession.user_id == target.id))
    assert all(row.revoked_at is not None for row in rows)
    assert target_browser.get("/admin/").status_code == 302


def test_api_key_is_shown_once_then_only_its_prefix(client, auth):
    auth.login(UserFactory(role="admin"))
    created = client.post(
        "/admin/api-keys/new/",
        data={
            "name": "Booking system",
            "scopes": ["read", "write"],
            "csrf_token": token_of(client, "/admin/api-keys/new/"),
        },
    )
    plaintext = re.search(r'id="new-api-key">([^<]+)<', created.text).group(1)
    key = db.session.scalar(sa.select(ApiKey))
    assert plaintext.startswith("opk_" + key.prefix) and key.scopes == ["read", "write"]
    listing = client.get("/admin/api-keys/").text
    assert key.prefix in listing and plaintext not in listing
    assert plaintext not in str(db.session.scalars(sa.select(AuditEvent)).all())
    client.post(
        "/admin/api-keys/action/",
        data={
            "action": "revoke",
            "rowid": str(key.id),
            "csrf_token": token_of(client, "/admin/api-keys/"),
        },
    )
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
