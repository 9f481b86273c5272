"""Access tokens: HS256 JWTs, short-lived, naming their login session (`sid`).

Decoding pins the algorithm list and requires `exp`, so `alg: none`, key confusion and
never-expiring tokens are refused. A token proves only who logged in: each request also
checks that its session is live (holder.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from ...db.models import AuthSession
from ...errors import JoPanelError, NotAuthenticated
from .model import utcnow

ALGORITHM = "HS256"
ISSUER = "jopanel"
ACCESS_TTL = timedelta(minutes=15)
MIN_SECRET_BYTES = 32


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
