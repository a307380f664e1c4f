"""Demo data of webhooks: one endpoint of an invented booking system, with a short history.

The endpoint is disabled (its address is an example one), so the demo never calls out; its
deliveries and attempts show what the console's webhook pages hold in real use.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsadmin.events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from opsadmin.events.service import write_events
from opsadmin.events.webhooks import new_secret

DEMO_URL = "https://booking.example.org/hooks/opsadmin"


def seed_webhooks(session: Session, now: dt.datetime, location_codes: list[str]) -> int:
    """Add the demo endpoint and its history unless there is one; return endpoints added."""
    if session.scalar(sa.select(sa.func.count(WebhookEndpoint.id))):
        return 0
    endpoint = WebhookEndpoint(
        url=DEMO_URL,
        events=["appointment.created", "appointment.updated", "location.updated"],
        description="Demo booking system (an example address: disabled, nothing is sent)",
        secret=new_secret(),
        active=False,
        failing_since=now - dt.timedelta(days=5, hours=1),
        disabled_at=now - dt.timedelta(hours=1),
    )
    session.add(endpoint)
    events = write_events(
        session, [("location.updated", {"code": code}) for code in location_codes]
    )
    for index, event in enumerate(events):
        failed = index == len(events) - 1
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            status="failed" if failed else "succeeded",
            attempts=1,
            next_attempt_at=None,
            last_response_code=503 if failed else 204,
            created_at=now - dt.timedelta(days=6 - index),
        )
        session.add(delivery)
        session.flush()
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                at=delivery.created_at,
                succeeded=not failed,
                response_code=delivery.last_response_code,
                duration_ms=80 + 15 * index,
                error="HTTP 503" if failed else "",
            )
        )
    session.flush()
    return 1
