"""The report ledger: one ReportRun per (kind, region, week), one ReportDelivery per recipient.

PostgreSQL, not Redis, is the source of truth for what is due and what was sent.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column
from opsadmin.labels import label
from opsadmin.locations.models import Region

REPORT_KINDS = ("utilisation", "followup")
RUN_STATUSES = ("pending", "queued", "running", "built", "sent", "failed")
FINAL_RUN_STATUSES = ("sent",)
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed")


class ReportRun(TimestampMixin, Base):
    __tablename__ = "report_run"
    __table_args__ = (
        sa.UniqueConstraint("kind", "region_id", "week"),
        sa.Index(None, "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = enum_column(REPORT_KINDS, "report_kind")
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id", ondelete="RESTRICT"))
    week: Mapped[str] = mapped_column(sa.String(8))  # ISO week, "2026-W49"
    status: Mapped[str] = enum_column(RUN_STATUSES, "report_run_status", default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    progress: Mapped[str] = mapped_column(sa.String(200), default="")
    error: Mapped[str] = mapped_column(sa.Text, default="")
    job_id: Mapped[str | None] = mapped_column(sa.String(100))
    requested_by: Mapped[str] = mapped_column(sa.String(200), default="system")
    enqueued_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    built_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    # Artefacts, stored with the run so a resend or a download never rebuilds different figures.
    html: Mapped[str | None] = mapped_column(sa.Text)
    text: Mapped[str | None] = mapped_column(sa.Text)
    csv: Mapped[str | None] = mapped_column(sa.Text)
    png: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # the main chart (download)
    # Every chart of the e-mail, in order: [{"name", "alt", "png": base64}], shown inline once each.
    charts: Mapped[list | None] = mapped_column(sa.JSON)
    figures: Mapped[dict | None] = mapped_column(sa.JSON)
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    region: Mapped[Region] = relationship()
    deliveries: Mapped[list[ReportDelivery]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="ReportDelivery.recipient"
    )

    def __str__(self) -> str:
        code = self.region.code if self.region else "?"
        return f"{label(self.kind)} {code} {self.week} ({label(self.status)})"


class ReportDelivery(TimestampMixin, Base):
    """One recipient of one run; marked sent once the SMTP server accepted the message."""

    __tablename__ = "report_delivery"
    __table_args__ = (sa.UniqueConstraint("run_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("report_run.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[str] = enum_column(
        DELIVERY_STATUSES, "report_delivery_status", default="pending"
    )
    # Bumped by the console's explicit "resend": part of the Message-ID, so a resend is a new message.
    generation: Mapped[int] = mapped_column(default=1)
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    sent_at: Mapped[dt.datetime | None]

    run: Mapped[ReportRun] = relationship(back_populates="deliveries")
