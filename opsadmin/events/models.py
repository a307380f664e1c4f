"""Event (the transactional outbox) and the webhook ledger: endpoints, deliveries, attempts.

The ledger lives in the database, not in Redis: a delivery row says what is due and when, so a
lost job or a killed worker delays a webhook but never loses it.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column, utcnow

EVENT_TYPES = (
    "appointment.created",
    "appointment.updated",
    "appointment.at_risk",
    "appointment.risk_cleared",
    "referral.status_changed",
    "location.updated",
)
# pending: due at next_attempt_at; sending: claimed by a job (claimed_at); succeeded; failed:
# every retry used up; cancelled: the endpoint was deleted or disabled first.
DELIVERY_STATUSES = ("pending", "sending", "succeeded", "failed", "cancelled")


class Event(Base):
    """One change, as the booking system hears of it: ``{"id", "type", "occurred_at", "data"}``."""

    __tablename__ = "event"
    __table_args__ = (sa.Index(None, "type", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data: Mapped[dict] = mapped_column(sa.JSON)

    def as_document(self) -> dict:
        """The event as the feed and the webhook body give it."""
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }

    def __str__(self) -> str:
        return f"#{self.id} {self.type}"


class WebhookEndpoint(TimestampMixin, Base):
    """A URL that receives the events of the listed types, signed with its secret."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    # Kept (not hashed): the app signs with it. Shown once, at creation.
    secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    # The first failure since the last success; failing for the whole window disables the URL.
    failing_since: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(Base):
    """One event owed to one endpoint; a replay is another delivery of the same event."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.Index(None, "status", "next_attempt_at"),
        sa.Index(None, "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = enum_column(
        DELIVERY_STATUSES, "webhook_delivery_status", default="pending"
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    last_response_code: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[Event] = relationship()

    def __str__(self) -> str:
        return f"event #{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(Base):
    """One POST to an endpoint: when, how long, what came back."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column(default=False)
    response_code: Mapped[int | None]
    duration_ms: Mapped[int] = mapped_column(default=0)
    # Why it failed, in words (timeout, refused address, connection error); never the secret.
    error: Mapped[str] = mapped_column(sa.String(500), default="")

    delivery: Mapped[WebhookDelivery] = relationship()

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.response_code or self.error}"
