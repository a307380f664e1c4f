"""Webhooks in the console (administrators): create with the secret shown once, the attempt
log, and "replay" resending an event with the same webhook-id."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from opsadmin.events import service as events_service
from opsadmin.events.models import WebhookEndpoint
from tests.factories import UserFactory


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "REDIS_URL": None,
        "OPSADMIN_WEBHOOK_ALLOW_HTTP": True,
        "OPSADMIN_WEBHOOK_ALLOW_PRIVATE": True,
    }


def sign_in(auth, session, role="admin"):
    user = UserFactory(role=role)
    session.commit()
    auth.login(user)
    return user


def test_admin_creates_an_endpoint_and_sees_the_secret_once(client, auth, session, receiver):
    sign_in(auth, session)
    page = client.post(
        "/admin/webhooks/new/",
        data={"url": receiver.url, "events": ["location.updated"], "description": "booking"},
    )
    assert page.status_code == 200
    endpoint = session.scalars(sa.select(WebhookEndpoint)).one()
    assert endpoint.secret in page.text and "shown once" in page.text
    listing = client.get("/admin/webhooks/")
    assert receiver.url in listing.text and endpoint.secret not in listing.text
    details = client.get(f"/admin/webhooks/details/?id={endpoint.id}")
    assert details.status_code == 200 and endpoint.secret not in details.text


def test_console_refuses_an_unsafe_url(client, auth, session, app):
    app.config["OPSADMIN_WEBHOOK_ALLOW_PRIVATE"] = False
    sign_in(auth, session)
    page = client.post(
        "/admin/webhooks/new/",
        data={"url": "https://169.254.169.254/latest", "events": ["location.updated"]},
        follow_redirects=True,
    )
    assert "private, loopback or link-local" in page.text
    assert session.scalars(sa.select(WebhookEndpoint)).all() == []


def test_attempt_log_and_replay_with_the_same_webhook_id(client, auth, session, receiver):
    sign_in(auth, session)
    client.post("/admin/webhooks/new/", data={"url": receiver.url, "events": ["location.updated"]})
    endpoint = session.scalars(sa.select(WebhookEndpoint)).one()
    receiver.answers = [500, 500, 500, 500, 500, 500, 500, 500]
    events_service.write_events(session, [("location.updated", {"code": "GRN"})])
    session.commit()  # delivered in-process: refused with a 500, a retry is due later
    attempts = client.get("/admin/webhook-attempts/")
    assert attempts.status_code == 200 and "500" in attempts.text
    deliveries = client.get("/admin/webhook-deliveries/")
    assert "pending" in deliveries.text and "location.updated" in deliveries.text

    receiver.answers = []
    delivery_id = session.execute(sa.text("SELECT id FROM webhook_delivery")).scalar_one()
    done = client.post(
        "/admin/webhook-deliveries/action/",
        data={"action": "replay", "rowid": [str(delivery_id)]},
        follow_redirects=True,
    )
    assert done.status_code == 200
    first, replayed = receiver.received[0], receiver.received[-1]
    assert first.headers["webhook-id"] == replayed.headers["webhook-id"]
    assert Webhook(endpoint.secret).verify(replayed.body, replayed.headers)["data"] == {
        "code": "GRN"
    }


def test_ops_manager_cannot_open_webhooks(client, auth, session):
    sign_in(auth, session, role="ops_manager")
    assert client.get("/admin/webhooks/").status_code == 403
    assert client.get("/admin/webhook-attempts/").status_code == 403
