"""Panel logins: who may log in, JWT access tokens, rotating refresh tokens, throttling.

- Identity (docs/identity.md): a hosting account's password is its shadow entry, checked
  by the agent (`verify_password`); the `users` table holds staff logins (admins,
  resellers: argon2id, V1 bcrypt rehashed at the next login) and roles. A staff login
  never shares a name with a hosting account.
- Names are canonicalised (NFKC, lowercase) and validated before any lookup; the
  throttle counts the canonical name. Every failed login takes at least
  `failure_floor` seconds, so timing tells neither unknown names nor hash kinds apart.
- Sessions of a hosting account are bound to its identity (uid + created_at): a deleted
  and re-created account of the same name, or a suspended one, ends them at once.
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
import hmac
import ipaddress
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import jwt
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .. import validate
from ..db.models import AuthSession, PanelUser, RefreshToken
from ..errors import Forbidden, JoPanelError, NotAuthenticated, Throttled, ValidationFailed
from .passwords import dummy_hash, hash_login_password, verify_login_password

__all__ = [
    "AccountCheck",
    "AccountDirectory",
    "AuthService",
    "Identity",
    "LoginThrottle",
    "Principal",
    "TokenPair",
    "TokenSigner",
    "canonical_login_name",
    "client_ip",
    "load_secret",
]

Role = Literal["admin", "reseller", "user"]
ROLES: tuple[Role, ...] = ("admin", "reseller", "user")
STAFF_ROLES: tuple[Role, ...] = ("admin", "reseller")
FAILURE_FLOOR_SECONDS = 0.4
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
    """A hosting account as a session knows it: a name is reused, a uid never is."""

    uid: int
    created_at: str
    status: str = "active"


@dataclass(frozen=True)
class AccountCheck:
    """The agent's answer to a password check of a hosting account."""

    ok: bool
    identity: Identity | None = None


class AccountDirectory(Protocol):
    """Hosting accounts as the login code needs them (implemented over the agent and the
    index by jopanel.accounts)."""

    def verify(self, username: str, password: str, ip: str) -> AccountCheck: ...

    def identity(self, username: str) -> Identity | None: ...


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

    def mac(self, value: str) -> str:
        """A keyed digest of `value` (the web UI's CSRF token of a login session)."""
        return hmac.new(self._secret, value.encode("utf-8"), hashlib.sha256).hexdigest()

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
    """Sliding-window counter of login attempts that did not succeed, per account and per
    client address (each attempt counts until its password proves right)."""

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

    def attempt(self, username: str, ip: str) -> None:
        """Count an attempt before its password is checked, or raise Throttled when either
        counter is at its limit. Checking and counting under one lock: parallel attempts
        cannot all slip in before the first failure is counted."""
        now = self._clock()
        keys = (f"user:{username.lower()}", f"ip:{ip}")
        with self._lock:
            for key, limit in zip(keys, (self.per_account, self.per_ip), strict=True):
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    retry = hits[0] + self.window - now
                    raise Throttled("too many failed logins; try again later", retry_after=retry)
            if len(self._failures) >= self.MAX_KEYS:
                self._forget_expired(now)
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def _forget_expired(self, now: float) -> None:
        """Memory bound under a spray of names: drop counters with no recent hit first,
        and only when that is not enough, half of the rest, those with the fewest hits
        first (a spray's one-hit names go before a targeted account's counter)."""
        for key in [k for k, hits in self._failures.items() if hits[-1] <= now - self.window]:
            del self._failures[key]
        if len(self._failures) >= self.MAX_KEYS:
            by_age = sorted(
                self._failures, key=lambda k: (len(self._failures[k]), self._failures[k][-1])
            )
            for key in by_age[: len(by_age) // 2]:
                del self._failures[key]

    def success(self, username: str, ip: str | None = None) -> None:
        """A right password: the account's counter starts again, and the attempt counted
        against the address is taken back."""
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)
            hits = self._failures.get(f"ip:{ip}") if ip is not None else None
            if hits:
                hits.pop()


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


class ClientAddress:
    """The client's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted = _networks(trusted_proxies)

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def __call__(self, peer: str | None, forwarded_for: str | None) -> str:
        peer = peer or "unknown"
        if not forwarded_for or not self.is_trusted(peer):
            return peer
        # Walk right to left: the nearest hop not itself a trusted proxy is the client.
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: believe only the socket
            if not self.is_trusted(hop):
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
        accounts: AccountDirectory,
        refresh_ttl: timedelta = REFRESH_TTL,
        failure_floor: float = FAILURE_FLOOR_SECONDS,
    ) -> None:
        self.signer = signer
        self.throttle = throttle
        self.accounts = accounts
        self.refresh_ttl = refresh_ttl
        self.failure_floor = failure_floor
        dummy_hash()  # computed once up front, not during the first unknown-user login

    # --- sessions --------------------------------------------------------------------
    def _open_session(
        self,
        db: Session,
        username: str,
        role: Role,
        ip: str,
        *,
        identity: Identity | None = None,
        impersonator: str | None = None,
    ) -> TokenPair:
        now = utcnow()
        self._prune(db, username, now)
        session = AuthSession(
            id=secrets.token_urlsafe(32),
            username=username,
            role=role,
            impersonator=impersonator,
            account_uid=identity.uid if identity else None,
            account_created=identity.created_at if identity else None,
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
            session_id=session.id,
        )

    # --- flows -----------------------------------------------------------------------
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
            self._note_login(row, ip)
        return self._open_session(db, name, role, ip, identity=check.identity)

    def _staff_login(self, db: Session, row: PanelUser, password: str, ip: str) -> TokenPair:
        ok, needs_rehash = verify_login_password(password, row.password_hash)
        if not ok or row.role not in STAFF_ROLES:
            raise NotAuthenticated("wrong username or password")
        if row.status != "active":
            raise Forbidden("this login is suspended", field="username")
        if needs_rehash:
            row.password_hash = hash_login_password(password)
        self._note_login(row, ip)
        return self._open_session(db, row.username, row.role, ip)

    @staticmethod
    def _note_login(row: PanelUser, ip: str) -> None:
        row.last_login_ip = ip[:64]
        row.last_login_at = utcnow()

    def login_as(
        self, db: Session, actor: Principal, username: str, identity: Identity, ip: str
    ) -> TokenPair:
        """A session for hosting account `username` that records who opened it."""
        return self._open_session(
            db, username, "user", ip, identity=identity, impersonator=actor.actor
        )

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
        self._check_holder(db, session)
        row.used_at = now
        refresh = self._new_refresh(db, session, now)
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
        session = db.get(AuthSession, session_id) if session_id else None
        if (
            session is None
            or session.revoked_at is not None
            or aware(session.expires_at) <= utcnow()
            or (expected_username is not None and session.username != expected_username)
        ):
            raise NotAuthenticated("session ended")
        self._check_holder(db, session)
        return Principal(
            username=session.username,
            role=session.role,  # type: ignore[arg-type]  # the column only holds ROLES
            session_id=session.id,
            impersonator=session.impersonator,
            uid=session.account_uid,
        )

    def _check_holder(self, db: Session, session: AuthSession) -> None:
        """The session's holder is still who logged in: the same hosting account (uid and
        created_at), active; a staff login that still exists, active, with its role."""
        if session.account_uid is not None:
            identity = self.accounts.identity(session.username)
            if (
                identity is None
                or identity.uid != session.account_uid
                or identity.created_at != session.account_created
            ):
                raise NotAuthenticated("session ended: the account no longer exists")
            if identity.status != "active":
                raise NotAuthenticated("session ended: the account is suspended")
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


def revoke_sessions(
    db: Session, username: str | None = None, *, opened_by: str | None = None
) -> int:
    """End every live session of `username` (suspension, deletion, a new password), or
    every login-as session the staff login `opened_by` opened."""
    if (username is None) == (opened_by is None):
        raise ValueError("name either username or opened_by")
    column = AuthSession.username if username is not None else AuthSession.impersonator
    result = db.execute(
        update(AuthSession)
        .where(column == (username or opened_by), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
