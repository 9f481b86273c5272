"""Staff logins: admins and resellers, kept in the `users` table (docs/identity.md).

A staff login never shares its name with a hosting account (the account's password is
its shadow entry, the staff login's an argon2id hash here; one name, one identity).
Suspending, deleting or changing the password of a staff login ends its sessions and
the login-as sessions it opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .. import validate
from ..agent.client import Agent
from ..auth.passwords import MAX_PASSWORD_CHARS, hash_login_password
from ..auth.sessions import STAFF_ROLES, revoke_sessions
from ..db.models import PanelUser
from ..db.session import session_scope
from ..errors import Conflict, NotFound, ValidationFailed

MIN_PASSWORD_CHARS = 8


@dataclass(frozen=True)
class StaffLogin:
    username: str
    role: str
    status: str
    created_at: datetime
    last_login_ip: str | None
    last_login_at: datetime | None
    own_password: bool

    def row(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "last_login_ip": self.last_login_ip,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "password": "own" if self.own_password else "the hosting account's",
        }


def check_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValidationFailed(
            f"must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters", field="password"
        )
    if "\0" in password or "\n" in password:
        raise ValidationFailed("must not contain NUL or newline", field="password")
    return password


def _end_sessions(db: Session, username: str) -> None:
    """The login's own sessions and every login-as session it opened (not the
    impersonated accounts' own sessions)."""
    revoke_sessions(db, username)
    revoke_sessions(db, opened_by=username)


class StaffLogins:
    """Create, list, re-password, suspend and delete admin and reseller logins."""

    def __init__(self, sessions: sessionmaker[Session], agent: Agent) -> None:
        self.sessions = sessions
        self.agent = agent

    def _is_hosting_account(self, username: str) -> bool:
        try:
            self.agent.execute("get_config", {"username": username}, actor="staff check")
        except (NotFound, ValidationFailed):
            return False
        return True

    def _row(self, db: Session, username: str) -> PanelUser:
        row = db.scalar(select(PanelUser).where(PanelUser.username == username))
        if row is None or row.password_hash is None:
            raise NotFound(f"no staff login {username!r}", field="username")
        return row

    def create(self, username: str, password: str, role: str) -> None:
        validate.panel_name(username)
        if role not in STAFF_ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(STAFF_ROLES)}", field="role")
        password_hash = hash_login_password(check_password(password))
        with session_scope(self.sessions) as db:
            if db.scalar(select(PanelUser.id).where(PanelUser.username == username)) is not None:
                raise Conflict(f"panel user {username!r} already exists", field="username")
        if self._is_hosting_account(username):
            raise Conflict(f"{username!r} is a hosting account", field="username")
        with session_scope(self.sessions) as db:
            db.add(PanelUser(username=username, password_hash=password_hash, role=role))

    def list(self) -> list[StaffLogin]:
        with session_scope(self.sessions) as db:
            return [
                StaffLogin(
                    r.username,
                    r.role,
                    r.status,
                    r.created_at,
                    r.last_login_ip,
                    r.last_login_at,
                    r.password_hash is not None,
                )  # fmt: skip
                for r in db.scalars(select(PanelUser).order_by(PanelUser.username))
            ]

    def set_password(self, username: str, password: str) -> None:
        password_hash = hash_login_password(check_password(password))
        with session_scope(self.sessions) as db:
            self._row(db, username).password_hash = password_hash
            _end_sessions(db, username)

    def set_status(self, username: str, *, suspended: bool) -> None:
        with session_scope(self.sessions) as db:
            row = db.scalar(select(PanelUser).where(PanelUser.username == username))
            if row is None:
                raise NotFound(f"no panel login {username!r}", field="username")
            row.status = "suspended" if suspended else "active"
            if suspended:
                _end_sessions(db, username)

    def delete(self, username: str) -> None:
        with session_scope(self.sessions) as db:
            row = db.scalar(select(PanelUser).where(PanelUser.username == username))
            if row is None:
                raise NotFound(f"no panel login {username!r}", field="username")
            db.delete(row)
            _end_sessions(db, username)
