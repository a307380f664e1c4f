"""Webhooks received by a real local HTTP server and verified with the standardwebhooks verifier.

On the embedded defaults delivery runs in-process after the commit; with REDIS_URL (CI's
PostgreSQL stage) it goes through the ``webhooks`` queue and a real burst worker.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from opsadmin.events import service as events_service
from opsadmin.events import webhooks
from opsadmin.events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from opsadmin.jobs import WEBHOOKS, is_inline, queue
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBED = ["appointment.created", "appointment.updated"]


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "OPSADMIN_WEBHOOK_ALLOW_HTTP": True,
        "OPSADMIN_WEBHOOK_ALLOW_PRIVATE": True,
        "OPSADMIN_WEBHOOK_RETRY_SECONDS": "0,0,0",
    }


@pytest.fixture
def headers(api_headers):
    return api_headers("read", "write", "admin")


@pytest.fixture
def jobs(app):
    """Whether jobs run in-process; with Redis, an empty webhooks queue to start from."""
    inline = is_inline()
    if not inline:
        queue(WEBHOOKS).empty()
    return inline


def register(client, headers, url, events=SUBSCRIBED):
    response = client.post("/api/v1/webhooks", json={"url": url, "events": events}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def drain(app, inline: bool) -> None:
    """Let the queue's jobs run: in-process they already have; else a real burst worker."""
    if inline:
        return
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "worker-test",
        "OPSADMIN_ENV": "test",
        "OPSADMIN_INSTANCE_DIR": app.config["INSTANCE_DIR"],
        "OPSADMIN_WEBHOOK_ALLOW_HTTP": "1",
        "OPSADMIN_WEBHOOK_ALLOW_PRIVATE": "1",
        "OPSADMIN_WEBHOOK_RETRY_SECONDS": app.config["OPSADMIN_WEBHOOK_RETRY_SECONDS"],
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.run(
        [sys.executable, "worker.py", "--burst", WEBHOOKS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stdout + process.stderr


def verified(hook, secret):
    """The payload, checked with the standardwebhooks verifier (it raises on a bad signature)."""
    return Webhook(secret).verify(hook.body, hook.headers)


def test_appointment_put_is_delivered_signed(client, headers, booking_body, receiver, app, jobs):
    hook = register(client, headers, receiver.url)
    assert hook["secret"].startswith("whsec_") and hook["active"] is True
    created = client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    assert created.status_code == 201
    drain(app, jobs)

    assert len(receiver.received) == 1
    got = receiver.received[0]
    payload = verified(got, hook["secret"])
    assert payload["type"] == "appointment.created"
    assert payload["data"] == created.get_json()
    assert got.headers["webhook-id"] == str(payload["id"])
    assert abs(int(got.headers["webhook-timestamp"]) - dt.datetime.now(dt.UTC).timestamp()) < 60
    tampered = got.body.replace(b"P-20931", b"P-20932")
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(tampered, got.headers)


def test_retry_after_a_500_then_success_keeps_the_webhook_id(
    client, headers, booking_body, receiver, app, jobs, session
):
    hook = register(client, headers, receiver.url)
    receiver.answers = [500]
    client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    drain(app, jobs)

    assert len(receiver.received) == 2
    first, second = (verified(hook_, hook["secret"]) for hook_ in receiver.received)
    assert first == second
    ids = {hook_.headers["webhook-id"] for hook_ in receiver.received}
    assert ids == {str(first["id"])}
    session.rollback()
    attempts = session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [(a.succeeded, a.response_code) for a in attempts] == [(False, 500), (True, 204)]
    assert all(a.duration_ms >= 0 for a in attempts)
    assert session.scalar(sa.select(WebhookDelivery.status)) == "succeeded"


def test_no_delivery_for_unsubscribed_types(
    client, headers, booking_body, receiver, app, jobs, session
):
    register(client, headers, receiver.url, events=["location.updated"])
    client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    drain(app, jobs)
    assert receiver.received == []
    session.rollback()
    assert session.scalar(sa.select(sa.func.count(WebhookDelivery.id))) == 0
    closure = {"starts_on": "2026-12-24", "ends_on": "2026-12-24", "reason": "Holiday"}
    client.post("/api/v1/locations/GRN/closures", json=closure, headers=headers)
    drain(app, jobs)
    assert [json.loads(h.body)["type"] for h in receiver.received] == ["location.updated"]


@pytest.fixture
def inline_jobs(app, monkeypatch):
    """Deliver in this process (whatever REDIS_URL says), so the test's clock is the job's."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        at = dt.datetime.now(dt.UTC)

        def move(self, **delta) -> None:
            self.at += dt.timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(events_service, "now", lambda: clock.at)
    return clock


def test_endpoint_failing_for_five_days_is_disabled_and_admins_told(
    client, headers, booking_body, receiver, app, inline_jobs, clock, session
):
    admin = UserFactory(role="admin", email="root@example.org")
    session.commit()
    hook = register(client, headers, receiver.url)
    receiver.answers = [503] * 100
    client.put("/api/v1/appointments/BK-1", json=booking_body(), headers=headers)
    assert len(receiver.received) == 4  # the first try and the three retries, all refused
    clock.move(days=4, hours=23)
    client.put("/api/v1/appointments/BK-1", json=booking_body(status="checked_in"), headers=headers)
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers).get_json()["active"]

    clock.move(hours=1, seconds=1)
    client.put("/api/v1/appointments/BK-1", json=booking_body(status="completed"), headers=headers)
    assert (
        client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers).get_json()["active"] is False
    )
    sent = len(receiver.received)
    outbox = list(Path(app.config["OPSADMIN_OUTBOX_DIR"]).glob("*.eml"))
    assert len(outbox) == 1
    mail = outbox[0].read_text()
    assert admin.email in mail and "disabled" in mail and receiver.url in mail

    client.patch("/api/v1/appointments/BK-1", json={"status": "completed"}, headers=headers)
    client.put("/api/v1/appointments/BK-2", json=booking_body(), headers=headers)
    assert len(receiver.received) == sent  # nothing more goes to a disabled endpoint


def test_backoff_schedule_of_a_failing_delivery(session, app, receiver, clock, inline_jobs):
    app.config["OPSADMIN_WEBHOOK_RETRY_SECONDS"] = "5,300,1800,7200,18000,36000,36000"
    endpoint = webhooks.create_endpoint(session, receiver.url, ["location.updated"])
    (event,) = events_service.write_events(session, [("location.updated", {"code": "GRN"})])
    receiver.answers = [500] * 10
    session.commit()  # the first attempt, in-process, after the commit: refused
    (delivery_id,) = session.scalars(sa.select(WebhookDelivery.id)).all()
    waits, status = [], "pending"
    while status == "pending":
        row = session.get(WebhookDelivery, delivery_id)
        waits.append((row.next_attempt_at - clock.at).total_seconds())
        clock.at = row.next_attempt_at
        status = webhooks.deliver(session, delivery_id)
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert status == "failed" and len(receiver.received) == 8
    assert session.get(WebhookEndpoint, endpoint.id).active  # 1.15 days of failure, not 5


def test_a_delivery_whose_job_died_is_sent_by_the_sweep(
    session, app, receiver, clock, inline_jobs, monkeypatch
):
    endpoint = webhooks.create_endpoint(session, receiver.url, ["location.updated"])
    events_service.write_events(session, [("location.updated", {"code": "GRN"})])
    with monkeypatch.context() as lost:
        lost.setattr(webhooks, "enqueue", lambda *args: None)  # Redis lost the job
        session.commit()
    (delivery_id,) = session.scalars(sa.select(WebhookDelivery.id)).all()
    assert webhooks.claim(session, delivery_id)  # a job took it … and was killed
    assert webhooks.sweep(session) == []  # still within its claim
    clock.move(minutes=3)
    assert webhooks.sweep(session) == [delivery_id]
    assert len(receiver.received) == 1
    verified(receiver.received[0], endpoint.secret)


def test_replay_resends_with_the_same_webhook_id(session, app, receiver, inline_jobs):
    endpoint = webhooks.create_endpoint(session, receiver.url, ["location.updated"])
    events_service.write_events(session, [("location.updated", {"code": "GRN"})])
    session.commit()
    (delivery_id,) = session.scalars(sa.select(WebhookDelivery.id)).all()
    webhooks.replay(session, delivery_id)
    session.commit()
    assert len(receiver.received) == 2
    first, again = receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert verified(first, endpoint.secret) == verified(again, endpoint.secret)


def test_redirects_are_not_followed(session, app, receiver, inline_jobs):
    webhooks.create_endpoint(session, receiver.url, ["location.updated"])
    receiver.answers = [302]
    events_service.write_events(session, [("location.updated", {"code": "GRN"})])
    session.commit()
    attempts = session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    # The 302 is a failed attempt (its Location never visited); the retry then succeeds.
    assert [(a.succeeded, a.response_code) for a in attempts] == [(False, 302), (True, 204)]
    assert len(receiver.received) == 2


def test_private_address_is_refused_again_at_delivery(session, app, receiver, inline_jobs):
    webhooks.create_endpoint(session, receiver.url, ["location.updated"])
    session.commit()
    app.config["OPSADMIN_WEBHOOK_ALLOW_PRIVATE"] = False
    events_service.write_events(session, [("location.updated", {"code": "GRN"})])
    session.commit()
    assert receiver.received == []
    attempt = session.scalars(sa.select(WebhookAttempt)).first()
    assert not attempt.succeeded and attempt.error.startswith("refused")


def test_webhook_endpoints_api(client, headers, api_headers, receiver):
    hook = register(client, headers, receiver.url)
    listed = client.get("/api/v1/webhooks", headers=headers)
    assert [h["id"] for h in listed.get_json()] == [hook["id"]]
    assert "secret" not in listed.get_json()[0]
    one = client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers).get_json()
    assert "secret" not in one and one["url"] == receiver.url
    read_only = api_headers("read")
    assert client.get("/api/v1/webhooks", headers=read_only).status_code == 403
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers).status_code == 404
    bad = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["nope"]}, headers=headers
    )
    assert bad.status_code == 422
