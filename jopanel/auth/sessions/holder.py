"""Is a session's holder still who logged in? Checked at every request and refresh, so a
change from any path (the panel, the CLI, reconcile, `passwd` over SSH, an admin's
`chpasswd`) ends the sessions it must end within one request.

- A hosting account's session: the account still has the identity it logged in with
  (uid + created_at: a deleted and re-created name is someone else), is active, and its
  shadow hash is still the one the session was opened on (its password stamp).
- A staff session: the login still exists, is active, keeps its role, and a staff
  login opened with a password still has one of its own.
- A login-as session: the staff login that opened it passes the same checks and may
  still see the account (an admin, or the reseller that owns it).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import AuthSession, PanelUser
from ...errors import NotAuthenticated
from .model import STAFF_ROLES, AccountDirectory, Identity


class HolderCheck:
    def __init__(self, accounts: AccountDirectory) -> None:
        self.accounts = accounts

    def __call__(self, db: Session, session: AuthSession) -> None:
        identity = self._account(session) if session.account_uid is not None else None
        staff_names = [session.impersonator] if session.impersonator else []
        if session.role in STAFF_ROLES:
            staff_names.append(session.username)
        for name in staff_names:
            row = db.scalar(select(PanelUser).where(PanelUser.username == name))
            if row is None or row.status != "active":
                raise NotAuthenticated(f"session ended: login {name!r} is gone or suspended")
            if name == session.username and (
                row.role != session.role
                # a staff session opened with a password must still have one of its own
                or (session.account_uid is None and row.password_hash is None)
            ):
                raise NotAuthenticated("session ended: the login changed")
            if name == session.impersonator and not _may_see(row, identity):
                raise NotAuthenticated("session ended: the account moved to another owner")

    def _account(self, session: AuthSession) -> Identity:
        identity = self.accounts.identity(session.username)
        if (
            identity is None
            or identity.uid != session.account_uid
            or identity.created_at != session.account_created
        ):
            raise NotAuthenticated("session ended: the account no longer exists")
        if identity.status != "active":
            raise NotAuthenticated("session ended: the account is suspended")
        stamp = self.accounts.password_stamp(session.username)
        if stamp is None or stamp != session.password_stamp:
            raise NotAuthenticated("session ended: the password changed")
        return identity


def _may_see(staff: PanelUser, identity: Identity | None) -> bool:
    """The account visibility rule (jopanel.accounts.service.may_see) for the staff login
    behind a login-as: an admin sees every account, a reseller the accounts it owns."""
    if staff.role == "admin":
        return True
    return identity is not None and staff.role == "reseller" and identity.owner == staff.username
