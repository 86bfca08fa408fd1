"""People and machines that may act: users with roles, API tokens, kiosk links, login failures."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dutydesk.core.db import Base, utcnow
from dutydesk.core.sites import optional_site_column


class Role(enum.StrEnum):
    """Roles in increasing power. ``viewer`` is read-only (a wall screen)."""

    VIEWER = "viewer"
    ENGINEER = "engineer"
    SHIFT_LEAD = "shift_lead"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown role {value!r}, allowed: {allowed}") from None


ROLE_TYPE = Enum(Role, native_enum=False, length=20, values_callable=lambda e: [r.value for r in e])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(ROLE_TYPE, default=Role.ENGINEER)
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Bumped on password change / disable so existing sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    # Directory (LDAP/AD) accounts: their entry's DN, and when the directory took access away
    # (a sync or sign-in found them in no mapped group); None for local accounts.
    directory_dn: Mapped[str | None] = mapped_column(String(500), default=None, index=True)
    directory_disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # OpenID Connect accounts: "<issuer> <subject>", the provider's stable id of the person.
    # ``directory_disabled_at`` records when the provider took their access away.
    oidc_subject: Mapped[str | None] = mapped_column(String(500), default=None, index=True)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def external(self) -> bool:
        """Signs in through the company directory or an OpenID Connect provider (no local
        password); False for local accounts such as the break-glass admins."""
        return self.directory_dn is not None or self.oidc_subject is not None

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"


class ApiToken(Base):
    """A bearer token for integrations. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(ROLE_TYPE)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KioskLink(Base):
    """A revocable URL that signs a wall screen in as ``viewer`` without a password."""

    __tablename__ = "kiosk_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The one site whose wall the screen shows; NULL: every site (the head office's wall).
    site_id: Mapped[int | None] = optional_site_column()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class UserSession(Base):
    """One signed-in browser. The cookie carries a random id; only its SHA-256 is stored, and
    a request counts as signed in only while the row exists: signing out deletes it, so a
    copied cookie stops working at once."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """One failed login; throttling counts recent rows per account and per client address."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TwoFactor(Base):
    """A user's TOTP (RFC 6238) second factor.

    ``secret`` is the base32 shared secret encrypted with a key derived from the app's secret key
    (a stolen database alone does not yield codes). Enrolment is pending until ``confirmed_at``
    is set by a first correct code. ``last_step`` is the 30-second time step of the last code
    accepted: a code is taken once, never replayed within its window.
    """

    __tablename__ = "user_two_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_step: Mapped[int | None] = mapped_column(default=None)


class RecoveryCode(Base):
    """One single-use recovery code; only its SHA-256 is stored (80 random bits: enough)."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
