"""`AuthService`: logins, refreshes, logouts and login-as, on the session store.

Names are canonicalised (NFKC, lowercase) and validated before any lookup, and the
throttle counts the canonical name. Every failed login takes at least `failure_floor`
seconds, so timing tells neither unknown names nor hash kinds apart.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import AuthSession, PanelUser
from ...errors import Forbidden, NotAuthenticated
from ..passwords import dummy_hash, hash_login_password, verify_login_password
from .holder import HolderCheck
from .model import (
    STAFF_ROLES,
    AccountDirectory,
    Identity,
    Principal,
    Role,
    TokenPair,
    canonical_login_name,
    utcnow,
)
from .store import REFRESH_TTL, SessionStore
from .throttle import LoginThrottle
from .tokens import TokenSigner

FAILURE_FLOOR_SECONDS = 0.4


class AuthService:
    """Logins, refreshes, logouts and login-as against the `users` and session tables."""

    def __init__(
        self,
        signer: TokenSigner,
        throttle: LoginThrottle,
        accounts: AccountDirectory,
        refresh_ttl: timedelta = REFRESH_TTL,
        failure_floor: float = FAILURE_FLOOR_SECONDS,
    ) -> None:
        self.signer = signer
        self.throttle = throttle
        self.accounts = accounts
        self.store = SessionStore(refresh_ttl)
        self.check_holder = HolderCheck(accounts)
        self.failure_floor = failure_floor
        dummy_hash()  # computed once up front, not during the first unknown-user login

    def _pair(self, session: AuthSession, refresh: str) -> TokenPair:
        return TokenPair(
            access_token=self.signer.issue(session),
            refresh_token=refresh,
            expires_in=int(self.signer.access_ttl.total_seconds()),
            username=session.username,
            role=session.role,  # type: ignore[arg-type]  # the column only holds ROLES
            impersonator=session.impersonator,
            session_id=session.id,
        )

    # --- logging in --------------------------------------------------------------------
    def login(self, db: Session, username: str, password: str, ip: str) -> TokenPair:
        """Check the password and open a session, or fail in no less than `failure_floor`.

        Raises NotAuthenticated (wrong name or password), Forbidden (a suspended login,
        only once the password was right) or Throttled.
        """
        started = time.monotonic()
        name = canonical_login_name(username)
        key = name or "(invalid name)"
        self.throttle.attempt(key, ip)
        try:
            pair = self._login(db, name, password, ip)
        except NotAuthenticated:
            self._wait_until(started + self.failure_floor)
            raise
        # The session is stored before the throttle writes through its own connection
        # (SQLite lets one writer in at a time).
        db.commit()
        self.throttle.success(key, ip)
        return pair

    @staticmethod
    def _wait_until(deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def _login(self, db: Session, name: str | None, password: str, ip: str) -> TokenPair:
        row = db.scalar(select(PanelUser).where(PanelUser.username == name)) if name else None
        if row is not None and row.password_hash is not None:
            return self._staff_login(db, row, password, ip)
        if name is None:
            verify_login_password(password, dummy_hash())  # the cost of a real check
            raise NotAuthenticated("wrong username or password")
        # End this read before the agent call, which may index a change through another
        # connection: SQLite refuses a write on a snapshot older than that commit.
        db.commit()
        check = self.accounts.verify(name, password, ip)
        if not check.ok or check.identity is None:
            raise NotAuthenticated("wrong username or password")
        if check.identity.status != "active":
            raise Forbidden("this account is suspended", field="username")
        role: Role = "user"
        if row is not None:  # a role granted to this hosting account (a V1 reseller)
            if row.status != "active":
                raise Forbidden("this login is suspended", field="username")
            role = row.role  # type: ignore[assignment]  # the column only holds ROLES
            _note_login(row, ip)
        # The session is bound to the hash just checked, not to whatever the shadow holds
        # by the time it is stored: a password set in between ends it at its first use.
        session, refresh = self.store.open(
            db, name, role, ip, identity=check.identity, password_stamp=check.password_stamp
        )
        return self._pair(session, refresh)

    def _staff_login(self, db: Session, row: PanelUser, password: str, ip: str) -> TokenPair:
        ok, needs_rehash = verify_login_password(password, row.password_hash)
        if not ok or row.role not in STAFF_ROLES:
            raise NotAuthenticated("wrong username or password")
        if row.status != "active":
            raise Forbidden("this login is suspended", field="username")
        if needs_rehash:
            row.password_hash = hash_login_password(password)
        _note_login(row, ip)
        session, refresh = self.store.open(db, row.username, row.role, ip)
        return self._pair(session, refresh)

    def login_as(
        self, db: Session, actor: Principal, username: str, identity: Identity, ip: str
    ) -> TokenPair:
        """A session for hosting account `username` that records who opened it."""
        session, refresh = self.store.open(
            db, username, "user", ip, identity=identity, impersonator=actor.actor,
            password_stamp=self.accounts.password_stamp(username),
        )  # fmt: skip
        return self._pair(session, refresh)

    # --- using a session ---------------------------------------------------------------
    def refresh(self, db: Session, token: str) -> TokenPair:
        now = utcnow()
        row, session = self.store.redeem(db, token, now)
        self.check_holder(db, session)
        row.used_at = now
        refresh = self.store.new_refresh(db, session, now)
        db.flush()
        return self._pair(session, refresh)

    def logout(self, db: Session, principal: Principal) -> None:
        session = db.get(AuthSession, principal.session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at = utcnow()

    def authenticate(self, db: Session, token: str) -> Principal:
        """The principal of a bearer access token whose session is still live."""
        claims = self.signer.decode(token)
        return self.session_principal(db, claims["sid"], expected_username=claims["sub"])

    def session_principal(
        self, db: Session, session_id: str, *, expected_username: str | None = None
    ) -> Principal:
        """The principal of a live login session (the web UI's cookie names it)."""
        session = self.store.live(db, session_id, expected_username)
        self.check_holder(db, session)
        return Principal(
            username=session.username,
            role=session.role,  # type: ignore[arg-type]  # the column only holds ROLES
            session_id=session.id,
            impersonator=session.impersonator,
            uid=session.account_uid,
        )


def _note_login(row: PanelUser, ip: str) -> None:
    row.last_login_ip = ip[:64]
    row.last_login_at = utcnow()
