"""Console users and their regions, server-side console sessions, API keys and idempotency records."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsadmin.db import Base, TimestampMixin, enum_column, utcnow
from opsadmin.labels import label

if TYPE_CHECKING:  # the relationship names its target by name: auth depends on no feature
    from opsadmin.locations.models import Region

USER_ROLES = ("admin", "ops_manager", "regional_lead")
API_SCOPES = ("read", "write", "admin")

user_region = sa.Table(
    "user_region",
    Base.metadata,
    sa.Column("user_id", sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_id", sa.ForeignKey("region.id", ondelete="CASCADE"), primary_key=True),
)


class User(TimestampMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = enum_column(USER_ROLES, "user_role")
    active: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # Set by an administrator's two-factor reset: the next sign-in enrols a new authenticator
    # whatever OPSADMIN_REQUIRE_TOTP says (a reset never drops the second factor).
    totp_enrol_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The last TOTP time step accepted: a code is single-use.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    regions: Mapped[list[Region]] = relationship(
        "Region", secondary=user_region, order_by="Region.code"
    )

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __str__(self) -> str:
        return f"{self.email} ({label(self.role)})"


class ConsoleSession(Base):
    """A server-side console session: the cookie carries only its random id.

    Logout, disabling the user and a password change revoke rows here, so an old cookie is dead.
    """

    __tablename__ = "console_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    totp_verified: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str] = mapped_column(sa.String(64), default="")

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """A failed console login, counted per account and per IP for rate limiting."""

    __tablename__ = "login_failure"
    __table_args__ = (sa.Index(None, "email", "at"), sa.Index(None, "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(TimestampMixin, Base):
    """An integration's key; only its SHA-256 digest is stored, the prefix is for recognising it."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_by: Mapped[str] = mapped_column(sa.String(200), default="")
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(Base):
    """A POST made with an Idempotency-Key, per API key: replayed while it is kept."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        sa.UniqueConstraint("api_key_id", "key"),
        sa.Index(None, "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_key.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    endpoint: Mapped[str] = mapped_column(sa.String(200))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = enum_column(("in_progress", "done"), "idempotency_state")
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    response_headers: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
