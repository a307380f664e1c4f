"""Appointments pushed by the booking system, keyed by its external_id."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin import master_cache
from opsadmin.db import Base, TimestampMixin, enum_column, utcnow
from opsadmin.labels import label
from opsadmin.locations.models import (
    Location,
    LocationClosure,
    OpeningHours,
    SiteRegistration,
    SiteRule,
)
from opsadmin.referrals.models import INDICATIONS, Referral
from opsadmin.rooms.models import Room
from opsadmin.staff.models import (
    APPOINTMENT_KINDS,
    Credential,
    CredentialRule,
    StaffMember,
    staff_location,
)

# What availability caches per worker (bookings/availability.py), the site's master data: a write
# to any of these tables bumps the cache_version token in its transaction. Declared here, beside
# the models every process imports, so that a worker that never serves availability still
# invalidates the other workers' copies.
master_cache.watch(
    Location, OpeningHours, LocationClosure, SiteRegistration, SiteRule, Room, CredentialRule
)
# ... and the site rosters: who is assigned where, and their credentials.
master_cache.watch(StaffMember, staff_location, Credential)

APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "cancelled", "no_show")
FINAL_STATUSES = ("completed", "cancelled", "no_show")
ACTIVE_STATUSES = ("booked", "checked_in")
# Why a future booking would be refused today, in the order they are reported.
RISK_REASONS = (
    "location_closed",
    "room_closed",
    "room_inactive",
    "over_capacity",
    "staff_not_eligible",
    "site_not_licensed",
    "staff_double_booked",
)


class Appointment(TimestampMixin, Base):
    __tablename__ = "appointment"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        sa.Index(None, "room_id", "starts_at"),
        sa.Index(None, "location_id", "starts_at"),
        sa.Index(None, "referral_id"),
        sa.Index(None, "staff_id", "starts_at"),
        # The console lists appointments newest first: without it, each page sorts the whole table.
        sa.Index(None, "starts_at"),
        # patient_double_booked reads a patient's appointments around the slot.
        sa.Index(None, "patient_ref", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("location.id", ondelete="RESTRICT"))
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("room.id", ondelete="RESTRICT"))
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_member.id", ondelete="RESTRICT"))
    kind: Mapped[str] = enum_column(APPOINTMENT_KINDS, "appointment_kind")
    indication: Mapped[str] = enum_column(INDICATIONS, "appointment_indication")
    # The booking system's opaque patient id; never a name.
    patient_ref: Mapped[str] = mapped_column(sa.String(64))
    referral_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("referral.id", ondelete="RESTRICT")
    )
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    status: Mapped[str] = enum_column(APPOINTMENT_STATUSES, "appointment_status", default="booked")

    location: Mapped[Location] = relationship()
    room: Mapped[Room] = relationship()
    staff: Mapped[StaffMember] = relationship()
    referral: Mapped[Referral | None] = relationship()
    risks: Mapped[list[AppointmentRisk]] = relationship(
        back_populates="appointment", cascade="all, delete-orphan", passive_deletes=True
    )

    def __str__(self) -> str:
        return f"{self.external_id} ({label(self.kind)}, {label(self.status)})"

    @property
    def at_risk(self) -> list[str]:
        """Why this booking would be refused today, in the order of RISK_REASONS (empty: fine).

        Only a future booked or checked-in appointment can be at risk; the reasons are stored by
        :mod:`opsadmin.bookings.risk` when a write (or the daily job) judges it.
        """
        if self.status not in ACTIVE_STATUSES or self.starts_at < utcnow():
            return []
        return sorted({r.reason for r in self.risks}, key=RISK_REASONS.index)


class AppointmentRisk(Base):
    """One reason a future booking is at risk, as last judged; ``notified_at`` once e-mailed."""

    __tablename__ = "appointment_risk"

    appointment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("appointment.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(
        sa.Enum(*RISK_REASONS, name="appointment_risk_reason", native_enum=False,
                create_constraint=True, length=32),
        primary_key=True,
    )  # fmt: skip
    flagged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[dt.datetime | None]

    appointment: Mapped[Appointment] = relationship(back_populates="risks")
