"""The tables of who may do what: API tokens, users, their login sessions, and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from docflow.store.models import Base, UTCDateTime, utcnow

AUDIT_ID = BigInteger().with_variant(Integer, "sqlite")


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the token is kept: it is random and long, so a fast
    hash is enough, and a stolen database holds nothing a client could send."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public: in the token itself
    name: Mapped[str] = mapped_column(String(200), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(10))  # read | upload | admin
    # The tenant whose documents it acts for (docflow.store.tenants); None: the default one.
    tenant: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """A person who logs in to the web app with a password (argon2id hash)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(10))
    tenant: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A logged-in browser. The cookie holds a random id; the row holds its SHA-256, so logout
    and `docflow user delete` end a session at once, on every API process."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """One thing someone did: every change through the API, every download, every token and
    user made or removed on the command line."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        # Failed logins per user and address in a window: the login rate limit reads this.
        Index("ix_audit_log_action_actor_at", "action", "actor", "at"),
    )

    # 64-bit on PostgreSQL (years of uploads and downloads); SQLite's rowid is 64-bit already.
    id: Mapped[int] = mapped_column(AUDIT_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))  # token name, user name, or "anonymous"
    actor_kind: Mapped[str] = mapped_column(String(20))  # token | user | proxy | anonymous | cli
    token_id: Mapped[str | None] = mapped_column(String(32))
    tenant: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(1000))
    client: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[int] = mapped_column(Integer)
