"""Login sessions and their refresh tokens in the panel database.

A session is one login: a family of refresh tokens, each random, stored as SHA-256 and
used once. Refreshing rotates; replaying a used token revokes the whole session (refresh
token rotation, OAuth 2.0 Security BCP). Revoking a session ends its access tokens too,
because every request looks the session up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ...db.models import AuthSession, RefreshToken
from ...errors import NotAuthenticated
from .model import Identity, Role, aware, utcnow

REFRESH_TTL = timedelta(days=14)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    """Opens, rotates and ends sessions; `refresh_ttl` bounds a session's whole life."""

    def __init__(self, refresh_ttl: timedelta = REFRESH_TTL) -> None:
        self.refresh_ttl = refresh_ttl

    def open(
        self,
        db: Session,
        username: str,
        role: Role,
        ip: str,
        *,
        identity: Identity | None = None,
        impersonator: str | None = None,
        password_stamp: str | None = None,
    ) -> tuple[AuthSession, str]:
        """A new session and its first refresh token."""
        now = utcnow()
        self.prune(db, username, now)
        session = AuthSession(
            id=secrets.token_urlsafe(32),
            username=username,
            role=role,
            impersonator=impersonator,
            account_uid=identity.uid if identity else None,
            account_created=identity.created_at if identity else None,
            password_stamp=password_stamp,
            ip=ip[:64],
            created_at=now,
            expires_at=now + self.refresh_ttl,
        )
        db.add(session)
        refresh = self.new_refresh(db, session, now)
        db.flush()
        return session, refresh

    @staticmethod
    def prune(db: Session, username: str, now: datetime) -> None:
        """Forget this user's sessions that expired or were revoked a day ago, so the
        tables stay bounded without a cron job. (Two steps: MariaDB refuses a DELETE
        whose subquery reads the same table.)"""
        ended = list(
            db.scalars(
                select(AuthSession.id).where(
                    AuthSession.username == username,
                    or_(
                        AuthSession.expires_at < now,
                        AuthSession.revoked_at < now - timedelta(days=1),
                    ),
                )
            )
        )
        if ended:
            db.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(ended)))
            db.execute(delete(AuthSession).where(AuthSession.id.in_(ended)))

    def new_refresh(self, db: Session, session: AuthSession, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        db.add(
            RefreshToken(
                token_hash=token_hash(token),
                session_id=session.id,
                expires_at=min(now + self.refresh_ttl, aware(session.expires_at)),
            )
        )
        return token

    @staticmethod
    def live(db: Session, session_id: str, expected_username: str | None = None) -> AuthSession:
        """The session `session_id` names, or NotAuthenticated when it has ended."""
        session = db.get(AuthSession, session_id) if session_id else None
        if (
            session is None
            or session.revoked_at is not None
            or aware(session.expires_at) <= utcnow()
            or (expected_username is not None and session.username != expected_username)
        ):
            raise NotAuthenticated("session ended")
        return session

    @staticmethod
    def redeem(db: Session, token: str, now: datetime) -> tuple[RefreshToken, AuthSession]:
        """The unused refresh token `token` and its live session; a used one ends its
        session for every holder."""
        row = db.get(RefreshToken, token_hash(token), with_for_update=True)
        if row is None:
            raise NotAuthenticated("invalid refresh token")
        session = db.get(AuthSession, row.session_id)
        if session is None or session.revoked_at is not None:
            raise NotAuthenticated("session ended")
        if row.used_at is not None:
            # A replayed token: whoever holds the session's tokens, end it for all of them.
            session.revoked_at = now
            db.commit()  # the revocation must outlive the error this request ends with
            raise NotAuthenticated("refresh token reused; session revoked")
        if aware(row.expires_at) <= now or aware(session.expires_at) <= now:
            raise NotAuthenticated("refresh token expired")
        return row, session


def revoke_sessions(
    db: Session,
    username: str | None = None,
    *,
    opened_by: str | None = None,
) -> int:
    """End every live session of `username` (suspension, deletion, a new password), every
    login-as session the staff login `opened_by` opened, or with both, the login-as
    sessions `opened_by` opened on `username` (the account moved to another owner)."""
    if username is None and opened_by is None:
        raise ValueError("name username, opened_by or both")
    query = update(AuthSession).where(AuthSession.revoked_at.is_(None))
    if username is not None:
        query = query.where(AuthSession.username == username)
    if opened_by is not None:
        query = query.where(AuthSession.impersonator == opened_by)
    result = db.execute(query.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
