"""The audit log: who did what to which row, written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsadmin.db import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index(None, "entity", "entity_id"), sa.Index(None, "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(sa.String(16))  # user | api_key | system | anonymous
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(sa.String(200), default="")
    # create | update | delete | login | login_failed | logout | view | export | denied | sent …
    action: Mapped[str] = mapped_column(sa.String(32))
    entity: Mapped[str] = mapped_column(sa.String(64), default="")
    entity_id: Mapped[str] = mapped_column(sa.String(64), default="")
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    ip: Mapped[str] = mapped_column(sa.String(64), default="")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.entity} {self.entity_id}"
