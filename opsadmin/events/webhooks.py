"""Webhook endpoints and their signed delivery (Standard Webhooks), with the ledger in the database.

A delivery (one event owed to one endpoint) is claimed with a conditional UPDATE, sent outside
any transaction, and its attempt recorded afterwards. A failure schedules the next attempt from
the back-off table; an endpoint failing for the whole window is disabled and the administrators
are e-mailed. :func:`sweep` re-queues what is due, including deliveries whose job died mid-flight
(claimed too long ago), so Redis losing a job delays a webhook but never loses it.

Server-side request forgery: a URL must be ``https://`` (``http://`` only when allowed) and every
address its host resolves to must be public unless private addresses are allowed; the check runs
at registration and again at each delivery, which connects to the very address it checked and
follows no redirect.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from opsadmin.errors import InvalidInput, NotFound
from opsadmin.events import service as events_service
from opsadmin.events.models import (
    EVENT_TYPES,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from opsadmin.extensions import db
from opsadmin.jobs import DEFAULT, WEBHOOKS, enqueue, enqueue_at, is_inline

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
USER_AGENT = "opsadmin-webhooks/1"
# How long a claimed delivery may stay "sending" before the sweep decides its job died.
CLAIM_EXPIRY = dt.timedelta(minutes=2)
SETTINGS: dict[str, Any] = {
    "OPSADMIN_WEBHOOK_ALLOW_HTTP": False,
    "OPSADMIN_WEBHOOK_ALLOW_PRIVATE": False,
    "OPSADMIN_WEBHOOK_TIMEOUT_SECONDS": 10,
    "OPSADMIN_WEBHOOK_RETRY_SECONDS": "5,300,1800,7200,18000,36000,36000",
    "OPSADMIN_WEBHOOK_DISABLE_AFTER_DAYS": 5,
}


def setting(name: str) -> Any:
    if has_app_context():
        return current_app.config.get(name, SETTINGS[name])
    return SETTINGS[name]


def retry_delays() -> list[dt.timedelta]:
    """The waits before the 2nd, 3rd … attempt (about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)."""
    text = str(setting("OPSADMIN_WEBHOOK_RETRY_SECONDS"))
    return [dt.timedelta(seconds=float(part)) for part in text.split(",") if part.strip()]


# -- the address guard ---------------------------------------------------------------------------


class UnsafeUrl(ValueError):
    """A URL the app must not call (scheme, host or resolved address)."""


def check_url(url: str, *, resolve: bool = True) -> list[str]:
    """The addresses ``url`` may be called at; UnsafeUrl when it may not be called at all."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise UnsafeUrl("Not a URL.") from error
    allowed = ("https", "http") if setting("OPSADMIN_WEBHOOK_ALLOW_HTTP") else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("The URL must start with https://.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL must not carry credentials.")
    if not resolve:
        return []
    addresses = _resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    if not setting("OPSADMIN_WEBHOOK_ALLOW_PRIVATE"):
        for address in addresses:
            if not _is_public(address):
                raise UnsafeUrl(
                    f"The host resolves to {address}, a private, loopback or link-local address."
                )
    return addresses


def _resolve(host: str, port: int) -> list[str]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        return [str(literal)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeUrl(f"The host {host!r} cannot be resolved.") from error
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_registration_url(url: str) -> None:
    """At registration: the scheme, and every address the host resolves to now (422 otherwise).

    A host that does not resolve yet is accepted (it is checked again at every delivery)."""
    try:
        check_url(url)
    except UnsafeUrl as error:
        if "cannot be resolved" in str(error):
            return
        raise InvalidInput(str(error), errors={"url": [str(error)]}) from error


# -- endpoints -----------------------------------------------------------------------------------


def new_secret() -> str:
    """``whsec_`` + base64 of 24 random bytes (the form the standardwebhooks verifier reads)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def create_endpoint(
    session: Session, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint (active); its secret is on the returned row, to be shown once."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        message = f"Unknown event types: {', '.join(unknown)}." if unknown else "Choose events."
        raise InvalidInput(message, errors={"events": [message]})
    check_registration_url(url)
    endpoint = WebhookEndpoint(
        url=url, events=sorted(set(events)), description=description, secret=new_secret()
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def endpoints_query() -> sa.Select:
    return (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
    )


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound(f"No webhook {endpoint_id}.")
    return endpoint


def delete_endpoint(session: Session, endpoint_id: int) -> None:
    """Stop delivering to the endpoint (its attempt log is kept)."""
    endpoint = get_endpoint(session, endpoint_id)
    endpoint.deleted_at = events_service.now()
    endpoint.active = False
    _cancel_pending(session, endpoint.id)


def _cancel_pending(session: Session, endpoint_id: int) -> None:
    session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="cancelled", next_attempt_at=None)
    )


def replay(session: Session, delivery_id: int) -> WebhookDelivery:
    """Send the delivery's event again, as a new delivery with the same ``webhook-id``."""
    from opsadmin.events.service import mark_due

    original = session.get(WebhookDelivery, delivery_id)
    if original is None:
        raise NotFound(f"No delivery {delivery_id}.")
    delivery = WebhookDelivery(
        endpoint_id=original.endpoint_id,
        event_id=original.event_id,
        next_attempt_at=events_service.now(),
    )
    session.add(delivery)
    session.flush()
    mark_due(session, [delivery.id])
    return delivery


# -- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    response_code: int | None = None
    error: str = ""
    duration_ms: int = 0


def signed_request(event: Event, secret: str, at: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """The body (the event document) and the Standard Webhooks headers for one attempt."""
    body = json.dumps(event.as_document(), separators=(",", ":"))
    message_id = str(event.id)
    signature = Webhook(secret).sign(message_id, at, body)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST once, to an address checked just now; redirects are answers, not followed."""
    started = time.monotonic()
    try:
        address = check_url(url)[0]
    except UnsafeUrl as error:
        return Outcome(False, error=f"refused: {error}")
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    port = parts.port or connection.default_port
    # Connect to the checked address (the host name still names the TLS certificate): a DNS
    # answer that changes between the check and the connection cannot redirect us.
    connection._create_connection = lambda _address, *args: socket.create_connection(  # noqa: SLF001
        (address, port), *args
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        code = response.status
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(200 <= code < 300, code, "" if code < 300 else f"HTTP {code}", elapsed)
    except TimeoutError:
        return Outcome(False, error="timeout", duration_ms=int((time.monotonic() - started) * 1000))
    except (OSError, http.client.HTTPException) as error:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(False, error=f"{type(error).__name__}: {error}"[:500], duration_ms=elapsed)
    finally:
        connection.close()


def claim(session: Session, delivery_id: int) -> bool:
    """Take the delivery for this job (one job per attempt, whatever the queue holds)."""
    result = session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= events_service.now(),
        )
        .values(status="sending", claimed_at=events_service.now())
    )
    session.commit()
    return result.rowcount == 1


def deliver(session: Session, delivery_id: int) -> str:
    """One attempt of one delivery; returns its new status (or ``skipped`` if not due/taken)."""
    if not claim(session, delivery_id):
        return "skipped"
    delivery = session.get(WebhookDelivery, delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active or endpoint.deleted_at is not None:
        delivery.status = "cancelled"
        session.commit()
        return delivery.status
    body, headers = signed_request(delivery.event, endpoint.secret, events_service.now())
    url, timeout = endpoint.url, float(setting("OPSADMIN_WEBHOOK_TIMEOUT_SECONDS"))
    session.commit()  # no transaction stays open while the endpoint answers
    outcome = post(url, body, headers, timeout)
    return record_attempt(session, delivery_id, outcome)


def record_attempt(session: Session, delivery_id: int, outcome: Outcome) -> str:
    """Log the attempt and decide what follows: done, the next try, or giving up."""
    delivery = session.get(WebhookDelivery, delivery_id)
    endpoint = delivery.endpoint
    at = events_service.now()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            at=at,
            succeeded=outcome.succeeded,
            response_code=outcome.response_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
        )
    )
    delivery.attempts += 1
    delivery.last_response_code = outcome.response_code
    delivery.claimed_at = None
    disabled = False
    if outcome.succeeded:
        delivery.status, delivery.next_attempt_at = "succeeded", None
        endpoint.failing_since = None
    else:
        delays = retry_delays()
        if delivery.attempts > len(delays):
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.status = "pending"
            delivery.next_attempt_at = at + delays[delivery.attempts - 1]
        endpoint.failing_since = endpoint.failing_since or at
        disabled = _disable_if_failing_too_long(session, endpoint, at)
    status, next_at = delivery.status, delivery.next_attempt_at
    session.commit()
    if disabled:
        _tell_admins(session, endpoint.id)
    elif status == "pending" and next_at is not None:
        _schedule(delivery_id, next_at if next_at > at else None)
    return status


def _disable_if_failing_too_long(
    session: Session, endpoint: WebhookEndpoint, at: dt.datetime
) -> bool:
    window = dt.timedelta(days=int(setting("OPSADMIN_WEBHOOK_DISABLE_AFTER_DAYS")))
    if not endpoint.active or at - endpoint.failing_since < window:
        return False
    endpoint.active = False
    endpoint.disabled_at = at
    _cancel_pending(session, endpoint.id)
    return True


def _tell_admins(session: Session, endpoint_id: int) -> None:
    """E-mail every active administrator that the endpoint was disabled."""
    from opsadmin.auth.models import User
    from opsadmin.notifications.mail import Mail, MailSettings, build_message, send

    endpoint = session.get(WebhookEndpoint, endpoint_id)
    settings = MailSettings.from_config(current_app.config)
    base_url = current_app.config["OPSADMIN_BASE_URL"].rstrip("/")
    days = setting("OPSADMIN_WEBHOOK_DISABLE_AFTER_DAYS")
    text = (
        f"The webhook endpoint {endpoint.url} (#{endpoint.id}) has failed every delivery for "
        f"{days} days and was disabled; no more events are sent to it.\n\n"
        f"Its attempt log: {base_url}/admin/webhooks/details/?id={endpoint.id}\n"
    )
    admins = session.scalars(
        sa.select(User.email).where(User.role == "admin", User.active.is_(True))
    )
    for email in admins:
        mail = Mail(
            subject=f"opsadmin: webhook #{endpoint.id} disabled",
            to=email,
            text=text,
            message_id=f"<webhook-disabled-{endpoint.id}-{secrets.token_hex(4)}@opsadmin>",
        )
        try:
            send(build_message(mail, settings), settings)
        except OSError:
            log.exception("could not e-mail %s about webhook %s", email, endpoint.id)


def _schedule(delivery_id: int, when: dt.datetime | None = None) -> None:
    """Queue an attempt (``when``: not before then); in-process a later one waits for the sweep."""
    if not has_app_context():
        return  # no app, no queue: the sweep finds it
    if when is None:
        enqueue(WEBHOOKS, deliver_webhook, delivery_id)
    else:
        enqueue_at(when, WEBHOOKS, deliver_webhook, delivery_id)


def deliveries_committed(delivery_ids: list[int]) -> None:
    """After a commit that owes webhooks: queue them (in-process: send them now, and what is due)."""
    if not has_app_context():
        return  # no app, no queue: the sweep finds them
    for delivery_id in delivery_ids:
        _schedule(delivery_id)
    if is_inline():
        enqueue(DEFAULT, sweep_webhooks)


def sweep(session: Session) -> list[int]:
    """Re-queue every delivery that is due, and those whose job died mid-flight."""
    at = events_service.now()
    session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < at - CLAIM_EXPIRY)
        .values(status="pending", claimed_at=None)
    )
    due = list(
        session.scalars(
            sa.select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= at)
            .order_by(WebhookDelivery.id)
        )
    )
    session.commit()
    for delivery_id in due:
        _schedule(delivery_id)
    return due


# -- the jobs ------------------------------------------------------------------------------------
# Each opens a session of its own: in-process (no REDIS_URL) they run right after the commit of
# the request's session, inside it.


def deliver_webhook(delivery_id: int) -> str:
    """Job: one attempt of one delivery."""
    with Session(db.engine) as session:
        return deliver(session, delivery_id)


def sweep_webhooks() -> list[int]:
    """Job (every minute): queue what is due, and deliveries whose job died."""
    with Session(db.engine) as session:
        return sweep(session)
