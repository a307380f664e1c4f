"""Rooms, their chair capacity and maintenance closures."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column
from opsadmin.labels import label
from opsadmin.locations.models import Location

ROOM_KINDS = ("infusion", "consult", "recovery")


class Room(TimestampMixin, Base):
    __tablename__ = "room"
    __table_args__ = (
        sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
        sa.UniqueConstraint("location_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        sa.ForeignKey("location.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = enum_column(ROOM_KINDS, "room_kind")
    capacity: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)

    location: Mapped[Location] = relationship(backref=backref("rooms", order_by="Room.name"))
    closures: Mapped[list[RoomClosure]] = relationship(
        back_populates="room", cascade="all, delete-orphan", order_by="RoomClosure.starts_at"
    )

    def __str__(self) -> str:
        code = self.location.code if self.location else "?"
        return f"{code} {self.name} ({label(self.kind)}, {self.capacity})"


class RoomClosure(Base):
    """Maintenance: the room takes no appointments in [starts_at, ends_at)."""

    __tablename__ = "room_closure"
    __table_args__ = (sa.CheckConstraint("ends_at > starts_at", name="ends_after_starts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("room.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(sa.String(200), default="")

    room: Mapped[Room] = relationship(back_populates="closures")

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M} UTC {self.reason}"
