"""SQLAlchemy 2 models. Nothing here is authoritative for a hosting account:
`account_index` is rebuilt from disk by `jopanel reindex`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# MariaDB's DATETIME keeps whole seconds: rows of one second would list in the order they
# were copied in, not the order they happened (a journal line copied after a login).
AUDIT_TIME = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# Login names compare byte for byte: MariaDB's default collation would match 'RESA ' and
# 'résa' to 'resa' (names are canonicalised before lookup as well).
LoginName = String(64).with_variant(mysql.VARCHAR(64, collation="utf8mb4_bin"), "mysql", "mariadb")
ThrottleKey = String(80).with_variant(
    mysql.VARCHAR(80, collation="utf8mb4_bin"), "mysql", "mariadb"
)


class PanelUser(Base):
    """A staff login (admin or reseller) and its role.

    Hosting accounts have no row: their password is the system's shadow entry, checked by
    the agent (docs/identity.md). The one exception is a role granted to a hosting account
    (a V1 reseller): its row has no password of its own and the account's password logs in.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(LoginName, unique=True, nullable=False)
    # NULL: the login is the hosting account of the same name (its shadow password).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="admin")
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, default="active", server_default="active"
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, nullable=False
    )
    last_login_ip: Mapped[str | None] = mapped_column(String(64))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_at", "at"),
        Index("ix_audit_logs_actor", "actor"),
        Index("ix_audit_logs_target", "target"),
        UniqueConstraint("event_id", name="uq_audit_logs_event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Rows imported from the agent's journal carry the journal entry's id (no duplicates).
    event_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(AUDIT_TIME, default=_now, nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)


class AccountIndex(Base):
    """Cache of account fields for list and search; never read for one account's details."""

    __tablename__ = "account_index"
    __table_args__ = (
        Index("ix_account_index_owner", "owner"),
        Index("ix_account_index_status", "status"),
        Index("ix_account_index_package", "package"),
        # Narrow enough that a substring search scans it instead of the table.
        Index("ix_account_index_search", "search_text", "username"),
    )

    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_email: Mapped[str] = mapped_column(String(255), nullable=False)
    primary_domain: Mapped[str] = mapped_column(String(253), nullable=False)
    package: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    owner: Mapped[str] = mapped_column(String(64), nullable=False)
    revision: Mapped[str] = mapped_column(String(71), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The account's identity (uid + created_at): sessions are bound to it, so a deleted
    # and re-created account of the same name is another identity.
    uid: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[str] = mapped_column(String(40), nullable=False, server_default="")
    # lower("username|email|domain"): one LIKE per row instead of three lower()+LIKEs.
    search_text: Mapped[str] = mapped_column(String(600), nullable=False, server_default="")


class AuthSession(Base):
    """One login (a family of rotated refresh tokens). Revoking it ends the login: every
    access token names its session and is refused once the session is revoked."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_username", "username"),)

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    username: Mapped[str] = mapped_column(LoginName, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    # The hosting account's identity when the session acts as one (its own login, a V1
    # reseller's, or login-as): uid and created_at as account.json had them.
    account_uid: Mapped[int | None] = mapped_column(Integer)
    account_created: Mapped[str | None] = mapped_column(String(40))
    # Set when an admin or reseller logged in as this account (login-as).
    impersonator: Mapped[str | None] = mapped_column(String(64))
    # A keyed digest of the account's shadow hash the session was opened on (the agent's
    # `password_stamp`): once the hash changes, by whatever path, the session has ended.
    password_stamp: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """A refresh token, stored only as its SHA-256. Used once: refreshing replaces it, and
    presenting a used one again revokes the whole session (reuse detection)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session_id", "session_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(43), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """One login attempt not (yet) proved right, under its account key (`user:NAME`) and
    its address key (`ip:ADDR`): the throttle every API worker shares."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_key_at", "key", "at_ms"),
        Index("ix_login_attempts_at", "at_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(ThrottleKey, nullable=False)
    # Wall-clock milliseconds: every worker, on any host, counts on the same clock.
    at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


class IndexState(Base):
    """Bookkeeping of the account index: whether it is stale, when it was last rebuilt."""

    __tablename__ = "index_state"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)
