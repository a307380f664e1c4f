"""Staff members, their credentials, and the rules saying which credentials a role needs."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column
from opsadmin.labels import label
from opsadmin.locations.models import Location

STAFF_ROLES = (
    "physician",
    "crna",
    "nurse_practitioner",
    "registered_nurse",
    "medical_assistant",
    "coordinator",
)
CLINICIAN_ROLES = ("physician", "crna", "nurse_practitioner")
CREDENTIAL_KINDS = (
    "state_license",
    "dea_registration",
    "state_csr",
    "acls",
    "bls",
    "board_certification",
)
# Credentials issued by a state: a rule on them is satisfied only by one for the site's state.
STATE_CREDENTIAL_KINDS = ("state_license", "dea_registration", "state_csr")
APPOINTMENT_KINDS = ("consult", "infusion", "follow_up")

staff_location = sa.Table(
    "staff_location",
    Base.metadata,
    sa.Column("staff_id", sa.ForeignKey("staff_member.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("location_id", sa.ForeignKey("location.id", ondelete="CASCADE"), primary_key=True),
)


class StaffMember(TimestampMixin, Base):
    __tablename__ = "staff_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    role: Mapped[str] = enum_column(STAFF_ROLES, "staff_role")
    active: Mapped[bool] = mapped_column(default=True)

    locations: Mapped[list[Location]] = relationship(
        secondary=staff_location, order_by="Location.code"
    )
    credentials: Mapped[list[Credential]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", order_by="Credential.kind"
    )

    def __str__(self) -> str:
        return f"{self.name} ({label(self.role)})"


class Credential(TimestampMixin, Base):
    """A license or certificate a staff member holds; its status is derived on a date (see service)."""

    __tablename__ = "credential"
    __table_args__ = (
        sa.CheckConstraint("expires_on > issued_on", name="expires_after_issued"),
        sa.Index(None, "staff_id", "kind"),
        sa.Index(None, "expires_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_member.id", ondelete="CASCADE"))
    kind: Mapped[str] = enum_column(CREDENTIAL_KINDS, "credential_kind")
    number: Mapped[str] = mapped_column(sa.String(60))
    state: Mapped[str | None] = mapped_column(sa.String(2))
    issued_on: Mapped[dt.date]
    expires_on: Mapped[dt.date]
    verified_on: Mapped[dt.date | None]
    verified_by: Mapped[str | None] = mapped_column(sa.String(120))

    @hybrid_property
    def unverified(self) -> bool:
        """Nobody verified it yet (a row's value, or the SQL condition on the class)."""
        return self.verified_on is None

    @unverified.inplace.expression
    @classmethod
    def _unverified_expression(cls) -> sa.ColumnElement[bool]:
        return cls.verified_on.is_(None)

    staff: Mapped[StaffMember] = relationship(back_populates="credentials")

    def __str__(self) -> str:
        state = f" {self.state}" if self.state else ""
        return f"{label(self.kind)}{state} {self.number}"


class CredentialRule(Base):
    """A role needs ``credential_kind`` to take ``appointment_kind``; a role with no rule cannot take it."""

    __tablename__ = "credential_rule"
    __table_args__ = (sa.UniqueConstraint("role", "appointment_kind", "credential_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = enum_column(STAFF_ROLES, "credential_rule_role")
    appointment_kind: Mapped[str] = enum_column(
        APPOINTMENT_KINDS, "credential_rule_appointment_kind"
    )
    credential_kind: Mapped[str] = enum_column(CREDENTIAL_KINDS, "credential_rule_credential_kind")

    def __str__(self) -> str:
        return f"{label(self.role)} needs {label(self.credential_kind)} for {label(self.appointment_kind)}"
