"""What the login code passes around: roles, login names, identities, principals, tokens."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from ... import validate
from ...errors import ValidationFailed

Role = Literal["admin", "reseller", "user"]
ROLES: tuple[Role, ...] = ("admin", "reseller", "user")
STAFF_ROLES: tuple[Role, ...] = ("admin", "reseller")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """MariaDB hands DATETIME back without an offset; everything we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def canonical_login_name(raw: str) -> str | None:
    """The name a login attempt is for (NFKC, lowercase), or None when no login can have
    it: 'RESA' is 'resa', but 'RESA ' and 'résa' are nobody."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    name = unicodedata.normalize("NFKC", raw).lower()
    try:
        return validate.panel_name(name)
    except ValidationFailed:
        return None


@dataclass(frozen=True)
class Identity:
    """A hosting account as a session knows it: a name is reused, a uid never is. `owner`
    is the staff login the account belongs to (who may still log in as it)."""

    uid: int
    created_at: str
    status: str = "active"
    owner: str | None = None


@dataclass(frozen=True)
class AccountCheck:
    """The agent's answer to a password check of a hosting account. `password_stamp`
    names the shadow hash that was checked: a session opened on it ends once the hash
    changes, whoever changes it."""

    ok: bool
    identity: Identity | None = None
    password_stamp: str | None = None


class AccountDirectory(Protocol):
    """Hosting accounts as the login code needs them (implemented over the agent and the
    index by jopanel.accounts)."""

    def verify(self, username: str, password: str, ip: str) -> AccountCheck: ...

    def identity(self, username: str) -> Identity | None: ...

    def password_stamp(self, username: str) -> str | None: ...


@dataclass(frozen=True)
class Principal:
    """Who is making a request, as established by a live session (or the CLI's root)."""

    username: str
    role: Role
    session_id: str
    impersonator: str | None = None
    uid: int | None = None

    @property
    def actor(self) -> str:
        """The name recorded in the audit log and meta.json: both people for login-as."""
        if self.impersonator:
            return f"{self.impersonator} as {self.username}"
        return self.username


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    username: str
    role: Role
    impersonator: str | None = None
    session_id: str = ""
