"""Appointments pushed by the booking system, keyed by its external_id."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin import master_cache
from opsadmin.db import Base, TimestampMixin, enum_column
from opsadmin.labels import label
from opsadmin.locations.models import Location, LocationClosure, OpeningHours, SiteRegistration
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
master_cache.watch(Location, OpeningHours, LocationClosure, SiteRegistration, Room, CredentialRule)
# ... and the site rosters: who is assigned where, and their credentials.
master_cache.watch(StaffMember, staff_location, Credential)

APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "cancelled", "no_show")
FINAL_STATUSES = ("completed", "cancelled", "no_show")


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

    def __str__(self) -> str:
        return f"{self.external_id} ({label(self.kind)}, {label(self.status)})"
