"""Regions, locations (sites), their opening hours, closures and controlled-substance registrations."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column
from opsadmin.labels import label

SITE_REGISTRATION_KINDS = ("dea_registration", "state_csr")


class Region(TimestampMixin, Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # Report recipients: the regional leads' e-mail addresses.
    lead_emails: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    locations: Mapped[list[Location]] = relationship(back_populates="region")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Location(TimestampMixin, Base):
    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    region_id: Mapped[int] = mapped_column(
        sa.ForeignKey("region.id", ondelete="RESTRICT"), index=True
    )
    address_line1: Mapped[str] = mapped_column(sa.String(200), default="")
    city: Mapped[str] = mapped_column(sa.String(120), default="")
    state: Mapped[str] = mapped_column(sa.String(2))
    postal_code: Mapped[str] = mapped_column(sa.String(10), default="")
    timezone: Mapped[str] = mapped_column(sa.String(64))
    phone: Mapped[str] = mapped_column(sa.String(32), default="")
    active: Mapped[bool] = mapped_column(default=True)

    region: Mapped[Region] = relationship(back_populates="locations")
    opening_hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="location",
        cascade="all, delete-orphan",
        order_by="(OpeningHours.weekday, OpeningHours.opens)",
    )
    closures: Mapped[list[LocationClosure]] = relationship(
        back_populates="location",
        cascade="all, delete-orphan",
        order_by="LocationClosure.starts_on",
    )
    registrations: Mapped[list[SiteRegistration]] = relationship(
        back_populates="location", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class OpeningHours(Base):
    """One local opening interval on a weekday (Monday = 0); a day may have several."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        sa.CheckConstraint("closes > opens", name="closes_after_opens"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("location.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    opens: Mapped[dt.time] = mapped_column(sa.Time)
    closes: Mapped[dt.time] = mapped_column(sa.Time)

    location: Mapped[Location] = relationship(back_populates="opening_hours")

    def __str__(self) -> str:
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[self.weekday or 0]
        return f"{day} {self.opens:%H:%M}–{self.closes:%H:%M}"


class LocationClosure(Base):
    """A holiday: the location is closed on every local date from starts_on to ends_on inclusive."""

    __tablename__ = "location_closure"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ends_on_after_starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("location.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(sa.String(200), default="")

    location: Mapped[Location] = relationship(back_populates="closures")

    def __str__(self) -> str:
        return f"{self.starts_on}–{self.ends_on} {self.reason}".strip()


class SiteRegistration(TimestampMixin, Base):
    """A site-level controlled-substance registration: the location's DEA registration or state CSR."""

    __tablename__ = "site_registration"
    __table_args__ = (sa.UniqueConstraint("kind", "number", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("location.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = enum_column(SITE_REGISTRATION_KINDS, "site_registration_kind")
    number: Mapped[str] = mapped_column(sa.String(40))
    state: Mapped[str] = mapped_column(sa.String(2))
    issued_on: Mapped[dt.date | None]
    expires_on: Mapped[dt.date]

    location: Mapped[Location] = relationship(back_populates="registrations")

    def __str__(self) -> str:
        return f"{label(self.kind)} {self.number} ({self.state}, expires {self.expires_on})"


class SiteRule(Base):
    """A registration a site in ``state`` needs to take infusions (data, edited in the console).

    Seeded with a DEA registration for every state and a state CSR for Indiana and Illinois.
    """

    __tablename__ = "site_rule"
    __table_args__ = (sa.UniqueConstraint("state", "registration_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(2))
    registration_kind: Mapped[str] = enum_column(SITE_REGISTRATION_KINDS, "site_rule_kind")

    def __str__(self) -> str:
        return f"{self.state} needs {self.registration_kind}"
