"""Referrals from consult to a course of infusions, their event history and screenings."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column, utcnow
from opsadmin.labels import label
from opsadmin.locations.models import Location
from opsadmin.staff.models import StaffMember

INDICATIONS = ("migraine", "depression", "chronic_pain", "other")
REFERRAL_STATUSES = (
    "received",
    "consult_scheduled",
    "consulted",
    "approved",
    "declined",
    "treatment_scheduled",
    "in_treatment",
    "completed",
    "withdrawn",
)
FINAL_REFERRAL_STATUSES = ("declined", "completed", "withdrawn")
CONTRAINDICATIONS = (
    "uncontrolled_cardiovascular_disease",
    "pregnancy",
    "active_psychosis",
    "severe_hepatic_disease",
    "kidney_disease",
    "raised_intracranial_pressure",
    "raised_intraocular_pressure",
    "active_substance_use_disorder",
)
ACTOR_TYPES = ("user", "api_key", "system")


class Referral(TimestampMixin, Base):
    __tablename__ = "referral"
    __table_args__ = (
        sa.CheckConstraint("planned_sessions >= 1", name="planned_sessions_positive"),
        sa.CheckConstraint("sessions_completed >= 0", name="sessions_completed_non_negative"),
        sa.Index(None, "status", "consult_location_id"),
        sa.Index(None, "status", "treatment_location_id"),
        sa.Index(None, "received_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_ref: Mapped[str] = mapped_column(sa.String(64))
    indication: Mapped[str] = enum_column(INDICATIONS, "referral_indication")
    referring_provider_name: Mapped[str] = mapped_column(sa.String(120))
    referring_provider_npi: Mapped[str] = mapped_column(sa.String(10))
    referring_provider_practice: Mapped[str] = mapped_column(sa.String(200), default="")
    received_on: Mapped[dt.date]
    consult_location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("location.id", ondelete="RESTRICT")
    )
    treatment_location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("location.id", ondelete="RESTRICT")
    )
    planned_sessions: Mapped[int] = mapped_column(default=6)
    sessions_completed: Mapped[int] = mapped_column(default=0)
    follow_up_due_on: Mapped[dt.date | None]
    status: Mapped[str] = enum_column(REFERRAL_STATUSES, "referral_status", default="received")
    # When the referral entered its current status: what "stalled" is measured from.
    status_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    consult_location: Mapped[Location] = relationship(foreign_keys=[consult_location_id])
    treatment_location: Mapped[Location] = relationship(foreign_keys=[treatment_location_id])
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral",
        cascade="all, delete-orphan",
        order_by="(ReferralEvent.at, ReferralEvent.id)",
    )
    screenings: Mapped[list[Screening]] = relationship(
        back_populates="referral", cascade="all, delete-orphan", order_by="Screening.decided_at"
    )

    def __str__(self) -> str:
        return f"Referral #{self.id} ({label(self.indication)}, {label(self.status)})"


class ReferralEvent(Base):
    """One state change, creation included: {from, to, actor, at, reason}."""

    __tablename__ = "referral_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(sa.String(32))
    to_status: Mapped[str] = mapped_column(sa.String(32))
    actor_type: Mapped[str] = enum_column(ACTOR_TYPES, "referral_event_actor_type")
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(sa.String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(sa.Text, default="")

    referral: Mapped[Referral] = relationship(back_populates="events")


class Screening(Base):
    """The consult's contraindication screening, decided by a physician."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        sa.ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    decided_by_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_member.id", ondelete="RESTRICT")
    )
    override: Mapped[str] = mapped_column(sa.Text, default="")
    decision: Mapped[str] = mapped_column(sa.String(32))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="screenings")
    decided_by: Mapped[StaffMember] = relationship()
