"""Failed logins per account and per client address, counted in the panel database.

Every API worker counts in the same table, so N workers give an attacker no more guesses
than one. Each attempt counts from before its password is checked until it proves right
(`success`), so parallel guesses cannot all slip in before the first failure is counted.

Counting without a lock every backend has: an attempt first commits its own rows, then
counts the rows of its keys within the window, and is refused (its rows taken back) when
the others already reach the limit. Of attempts racing each other, the one whose rows
commit last sees all the others', so no more than the limit pass, whichever worker each
lands on. Times are wall-clock milliseconds: every worker, on any host, reads the same clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ...db.models import LoginAttempt
from ...db.session import session_scope
from ...errors import JoPanelError, Throttled

log = logging.getLogger("jopanel.auth")


class LoginThrottle:
    """A sliding window of attempts that did not succeed (yet): `per_account` per login
    name and `per_ip` per client address within `window_seconds`."""

    SWEEP_EVERY = 500  # attempts of this worker between deletions of every expired row

    def __init__(
        self,
        per_account: int = 5,
        per_ip: int = 20,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.per_account = per_account
        self.per_ip = per_ip
        self.window = window_seconds
        self._clock = clock
        self._sessions = sessions
        self._since_sweep = 0

    def use(self, sessions: sessionmaker[Session]) -> LoginThrottle:
        """Count in this database (the API's own, unless one was given)."""
        if self._sessions is None:
            self._sessions = sessions
        return self

    def _db(self) -> sessionmaker[Session]:
        if self._sessions is None:
            raise JoPanelError("the login throttle has no database")
        return self._sessions

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @staticmethod
    def _keys(username: str, ip: str | None) -> tuple[str, str]:
        return f"user:{username.lower()}"[:80], f"ip:{ip}"[:80]

    def attempt(self, username: str, ip: str) -> None:
        """Count an attempt before its password is checked, or raise Throttled when either
        counter already holds its limit within the window."""
        now = self._now_ms()
        since = now - int(self.window * 1000)
        keys = self._keys(username, ip)
        with session_scope(self._db()) as db:
            rows = [LoginAttempt(key=key, at_ms=now) for key in keys]
            db.add_all(rows)
        mine = {row.id for row in rows}
        retry_ms: int | None = None
        with session_scope(self._db()) as db:
            for key, limit in zip(keys, (self.per_account, self.per_ip), strict=True):
                others = [
                    at
                    for row_id, at in db.execute(
                        select(LoginAttempt.id, LoginAttempt.at_ms)
                        .where(LoginAttempt.key == key, LoginAttempt.at_ms > since)
                        .order_by(LoginAttempt.at_ms, LoginAttempt.id)
                    )
                    if row_id not in mine
                ]
                if len(others) >= limit:
                    # Free again once enough of the others have left the window.
                    wait = others[len(others) - limit] + int(self.window * 1000) - now
                    retry_ms = max(retry_ms or 0, wait)
            if retry_ms is not None:
                db.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(mine)))
        if retry_ms is not None:
            raise Throttled("too many failed logins; try again later", retry_after=retry_ms / 1000)
        self._sweep(since)

    def _sweep(self, since: int) -> None:
        """Now and then, forget every expired attempt (a spray of names leaves rows no
        later attempt of theirs would look at). Housekeeping: a failure waits for the
        next sweep."""
        self._since_sweep += 1
        if self._since_sweep < self.SWEEP_EVERY:
            return
        self._since_sweep = 0
        try:
            with session_scope(self._db()) as db:
                db.execute(delete(LoginAttempt).where(LoginAttempt.at_ms <= since))
        except SQLAlchemyError:
            log.exception("cannot sweep expired login attempts")

    def success(self, username: str, ip: str | None = None) -> None:
        """A right password: the account's counter starts again, and the attempt counted
        against the address is taken back."""
        user_key, ip_key = self._keys(username, ip)
        with session_scope(self._db()) as db:
            db.execute(delete(LoginAttempt).where(LoginAttempt.key == user_key))
            if ip is None:
                return
            newest = db.scalar(select(func.max(LoginAttempt.id)).where(LoginAttempt.key == ip_key))
            if newest is not None:
                db.execute(delete(LoginAttempt).where(LoginAttempt.id == newest))

    def forget(self, username: str) -> int:
        """An administrator lifts a login name's lock before its window ends (the owner
        proved who they are another way); answers how many failed attempts were dropped."""
        user_key, _ = self._keys(username, None)
        with session_scope(self._db()) as db:
            gone = db.execute(delete(LoginAttempt).where(LoginAttempt.key == user_key))
            return int(getattr(gone, "rowcount", 0) or 0)
