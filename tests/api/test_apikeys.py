"""API keys: bearer authentication, independent scopes, audit actor, last use, per-key rate limit."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from flask.views import MethodView

from opsadmin.audit.models import AuditEvent
from opsadmin.auth.apikeys import api_key_required, current_api_key
from opsadmin.auth.models import ApiKey
from opsadmin.auth.service import revoke_api_key
from opsadmin.db import utcnow
from opsadmin.extensions import db
from opsadmin.locations.models import Region
from opsadmin.schemas import Blueprint

pytestmark = pytest.mark.fresh_app


def _probe_blueprint() -> Blueprint:
    blp = Blueprint("keyprobe", __name__, url_prefix="/api/v1/keyprobe")

    @blp.route("/things")
    @api_key_required("admin")
    class Things(MethodView):
        def get(self):
            key = current_api_key()
            return {"key_id": key.id, "scopes": list(key.scopes)}

        def post(self):
            db.session.add(Region(code="NEW", name="New region", lead_emails=[]))
            db.session.commit()
            return {"ok": True}, 201

    @blp.route("/bookings", methods=["PUT"])
    @api_key_required("write")
    def book():
        return {"ok": True}

    return blp


@pytest.fixture
def probe(app):
    app.extensions["opsadmin_api"].register_blueprint(_probe_blueprint())
    return app.test_client()


def test_missing_key_is_401_with_www_authenticate(probe):
    response = probe.get("/api/v1/keyprobe/things")
    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_key_is_401(probe):
    response = probe.get("/api/v1/keyprobe/things", headers={"Authorization": "Bearer opk_nope"})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def test_revoked_key_is_401(probe, api_headers, session):
    headers = api_headers("read")
    revoke_api_key(session, api_headers.last_key.id)
    session.commit()
    assert probe.get("/api/v1/keyprobe/things", headers=headers).status_code == 401


def test_expired_key_is_401(probe, api_headers, session):
    headers = api_headers("read")
    api_headers.last_key.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert probe.get("/api/v1/keyprobe/things", headers=headers).status_code == 401


def test_get_on_a_protected_view_needs_read(probe, api_headers):
    assert probe.get("/api/v1/keyprobe/things", headers=api_headers("read")).status_code == 200
    response = probe.get("/api/v1/keyprobe/things", headers=api_headers("write", "admin"))
    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


def test_scopes_are_independent_admin_does_not_imply_write(probe, api_headers):
    response = probe.put("/api/v1/keyprobe/bookings", json={}, headers=api_headers("read", "admin"))
    assert response.status_code == 403


def test_write_does_not_imply_admin(probe, api_headers):
    response = probe.post("/api/v1/keyprobe/things", json={}, headers=api_headers("read", "write"))
    assert response.status_code == 403


def test_writes_are_audited_as_the_api_key(probe, api_headers, session):
    headers = api_headers("admin", name="hr-sync")
    key_id = api_headers.last_key.id
    assert probe.post("/api/v1/keyprobe/things", json={}, headers=headers).status_code == 201
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.entity == "Region"))
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "api_key",
        key_id,
        "api-key:hr-sync",
    )


def test_use_sets_last_used_at_without_an_audit_event(probe, api_headers, session):
    headers = api_headers("read")
    key_id = api_headers.last_key.id
    probe.get("/api/v1/keyprobe/things", headers=headers)
    session.expire_all()
    assert session.get(ApiKey, key_id).last_used_at is not None
    updates = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity == "ApiKey", AuditEvent.action == "update")
    ).all()
    assert updates == []


def test_a_view_starts_with_no_open_transaction(app, api_headers):
    """The bookings service opens its own transaction (BEGIN IMMEDIATE on SQLite) first."""
    seen = {}

    blp = Blueprint("txprobe", __name__, url_prefix="/api/v1/txprobe")

    @blp.route("")
    @api_key_required("read")
    def tx():
        seen["in_transaction"] = db.session().in_transaction()
        return {}

    app.extensions["opsadmin_api"].register_blueprint(blp)
    app.test_client().get("/api/v1/txprobe", headers=api_headers("read"))
    assert seen == {"in_transaction": False}


def test_key_never_appears_in_logs(probe, api_headers, caplog):
    caplog.set_level(logging.DEBUG)
    headers = api_headers("read")
    plaintext = headers["Authorization"].split()[1]
    probe.get("/api/v1/keyprobe/things", headers=headers)
    probe.get("/api/v1/keyprobe/things", headers={"Authorization": f"Bearer {plaintext}x"})
    assert plaintext not in caplog.text


def test_unknown_scope_in_decorator_is_a_programming_error():
    with pytest.raises(ValueError):
        api_key_required("superuser")


@pytest.fixture
def limited_client(app_config, app):
    from opsadmin.app import create_app

    limited = create_app(
        app_config | {"RATELIMIT_ENABLED": True, "OPSADMIN_API_RATE_LIMIT": "3 per minute"}
    )
    limited.extensions["opsadmin_api"].register_blueprint(_probe_blueprint())
    return limited.test_client()


def test_rate_limit_per_key_answers_429_with_retry_after(limited_client, api_headers):
    first, second = api_headers("read"), api_headers("read")
    url = "/api/v1/keyprobe/things"
    answers = [limited_client.get(url, headers=first).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    response = limited_client.get(url, headers=first)
    assert response.json["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert limited_client.get(url, headers=second).status_code == 200
