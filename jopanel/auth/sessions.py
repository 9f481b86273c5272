"""Panel authentication: passwords, JWT access tokens, rotating refresh tokens, throttling.

- Passwords: argon2id; V1 bcrypt accepted and rehashed at the next login
  (jopanel.auth.passwords). Unknown usernames cost the same argon2 verification.
- Access tokens: HS256 JWTs, short-lived, naming their login session (`sid`). Decoding
  pins the algorithm list and requires `exp`, so `alg: none`, key confusion and
  never-expiring tokens are refused. Each request also checks the session is live, so
  logout, suspension and deletion end a login at once.
- Refresh tokens: random, stored as SHA-256, used once. Refreshing rotates; replaying
  a used token revokes the whole session (RFC 6819 §5.2.2.3, OAuth 2.0 Security BCP
  §4.14 "refresh token rotation").
- Throttling: failed logins per account and per client address in a sliding window;
  over the limit, 429 with Retry-After. The client address comes from X-Forwarded-For
  only when the peer is a configured proxy.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..auth.passwords import dummy_hash, hash_password, verify_password
from ..db.models import AuthSession, PanelUser, RefreshToken
from ..errors import JoPanelError
from .errors import NotAuthenticated, Throttled

__all__ = [
    "AuthService",
    "LoginThrottle",
    "Principal",
    "TokenPair",
    "TokenSigner",
    "client_ip",
    "hash_password",
    "load_secret",
    "verify_password",
]

Role = Literal["admin", "reseller", "user"]
ROLES: tuple[Role, ...] = ("admin", "reseller", "user")
ALGORITHM = "HS256"
ISSUER = "jopanel"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)
MIN_SECRET_BYTES = 32


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """MariaDB hands DATETIME back without an offset; everything we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Principal:
    """Who is making a request, as established by a live session."""

    username: str
    role: Role
    session_id: str
    impersonator: str | None = None

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


def load_secret(path: Path) -> bytes:
    """The HS256 key that `jopanel init` generated (SECRET_KEY_FILE, mode 0600)."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise JoPanelError(f"cannot read the secret key {path}: {exc}") from exc
    if len(secret) < MIN_SECRET_BYTES:
        raise JoPanelError(f"secret key {path} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret


class TokenSigner:
    """Issues and checks access tokens."""

    def __init__(self, secret: bytes, access_ttl: timedelta = ACCESS_TTL) -> None:
        self._secret = secret
        self.access_ttl = access_ttl

    def issue(self, session: AuthSession, now: datetime | None = None) -> str:
        now = now or utcnow()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": session.username,
            "sid": session.id,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int((now + self.access_ttl).timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        if session.impersonator:
            claims["imp"] = session.impersonator
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # pinned: never taken from the token header
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "typ", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("access token expired") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("invalid access token") from exc
        if claims.get("typ") != "access" or not isinstance(claims.get("sid"), str):
            raise NotAuthenticated("invalid access token")
        return claims


class LoginThrottle:
    """Sliding-window counter of failed logins, per account and per client address."""

    MAX_KEYS = 100_000

    def __init__(
        self,
        per_account: int = 5,
        per_ip: int = 20,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_ip = per_ip
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._failures.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._failures[key]
        return hits

    def check(self, username: str, ip: str) -> None:
        """Raise Throttled when either counter is at its limit."""
        now = self._clock()
        with self._lock:
            for key, limit in (
                (f"user:{username.lower()}", self.per_account),
                (f"ip:{ip}", self.per_ip),
            ):
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    retry = hits[0] + self.window - now
                    raise Throttled("too many failed logins; try again later", retry_after=retry)

    def failure(self, username: str, ip: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:
                self._failures.clear()  # memory bound under a spray of names
            for key in (f"user:{username.lower()}", f"ip:{ip}"):
                self._failures.setdefault(key, deque()).append(now)

    def success(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


class ClientAddress:
    """The client's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted = _networks(trusted_proxies)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def __call__(self, peer: str | None, forwarded_for: str | None) -> str:
        peer = peer or "unknown"
        if not forwarded_for or not self._is_trusted(peer):
            return peer
        # Walk right to left: the nearest hop not itself a trusted proxy is the client.
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: believe only the socket
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer


def client_ip(trusted_proxies: Iterable[str], peer: str | None, forwarded_for: str | None) -> str:
    return ClientAddress(trusted_proxies)(peer, forwarded_for)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AuthService:
    """Logins, refreshes, logouts and login-as against the `users` and session tables."""

    def __init__(
        self,
        signer: TokenSigner,
        throttle: LoginThrottle,
        refresh_ttl: timedelta = REFRESH_TTL,
    ) -> None:
        self.signer = signer
        self.throttle = throttle
        self.refresh_ttl = refresh_ttl
        dummy_hash()  # computed once up front, not during the first unknown-user login

    # --- sessions --------------------------------------------------------------------
    def _open_session(
        self, db: Session, username: str, role: Role, ip: str, impersonator: str | None = None
    ) -> TokenPair:
        now = utcnow()
        self._prune(db, username, now)
        session = AuthSession(
            id=secrets.token_urlsafe(32),
            username=username,
            role=role,
            impersonator=impersonator,
            ip=ip[:64],
            created_at=now,
            expires_at=now + self.refresh_ttl,
        )
        db.add(session)
        refresh = self._new_refresh(db, session, now)
        db.flush()
        return self._pair(session, refresh)

    @staticmethod
    def _prune(db: Session, username: str, now: datetime) -> None:
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

    def _new_refresh(self, db: Session, session: AuthSession, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        db.add(
            RefreshToken(
                token_hash=_token_hash(token),
                session_id=session.id,
                expires_at=min(now + self.refresh_ttl, aware(session.expires_at)),
            )
        )
        return token

    def _pair(self, session: AuthSession, refresh: str) -> TokenPair:
        return TokenPair(
            access_token=self.signer.issue(session),
            refresh_token=refresh,
            expires_in=int(self.signer.access_ttl.total_seconds()),
            username=session.username,
            role=session.role,  # type: ignore[arg-type]  # the column only holds ROLES
            impersonator=session.impersonator,
        )

    # --- flows -----------------------------------------------------------------------
    def login(
        self,
        db: Session,
        username: str,
        password: str,
        ip: str,
        may_log_in: Callable[[PanelUser], None] | None = None,
    ) -> TokenPair:
        """Check the password (rehashing V1 bcrypt) and open a session.

        `may_log_in` runs after a correct password and may refuse (a suspended account).
        """
        self.throttle.check(username, ip)
        user = db.scalar(select(PanelUser).where(PanelUser.username == username))
        # One argon2 verification whether or not the user exists: no timing oracle.
        ok, needs_rehash = verify_password(password, user.password_hash if user else dummy_hash())
        if user is None or not ok or user.role not in ROLES:
            self.throttle.failure(username, ip)
            raise NotAuthenticated("wrong username or password")
        if may_log_in is not None:
            may_log_in(user)
        self.throttle.success(username)
        if needs_rehash:
            user.password_hash = hash_password(password)
        return self._open_session(db, user.username, user.role, ip)

    def login_as(
        self, db: Session, actor: Principal, username: str, role: Role, ip: str
    ) -> TokenPair:
        """A session for `username` that records who opened it."""
        return self._open_session(db, username, role, ip, impersonator=actor.actor)

    def refresh(self, db: Session, token: str) -> TokenPair:
        now = utcnow()
        row = db.get(RefreshToken, _token_hash(token), with_for_update=True)
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
        row.used_at = now
        refresh = self._new_refresh(db, session, now)
        db.flush()
        return self._pair(session, refresh)

    def logout(self, db: Session, principal: Principal) -> None:
        session = db.get(AuthSession, principal.session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at = utcnow()

    def revoke_user(self, db: Session, username: str) -> None:
        """End every session of `username` (suspension, deletion, password reset)."""
        db.execute(
            update(AuthSession)
            .where(AuthSession.username == username, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    def authenticate(self, db: Session, token: str) -> Principal:
        """The principal of a bearer access token whose session is still live."""
        claims = self.signer.decode(token)
        session = db.get(AuthSession, claims["sid"])
        if (
            session is None
            or session.revoked_at is not None
            or aware(session.expires_at) <= utcnow()
            or session.username != claims["sub"]
        ):
            raise NotAuthenticated("session ended")
        return Principal(
            username=session.username,
            role=session.role,  # type: ignore[arg-type]  # the column only holds ROLES
            session_id=session.id,
            impersonator=session.impersonator,
        )
