"""Panel password hashes: argon2id for everything new, V1 bcrypt accepted and upgraded.

    hash_login_password(plain)            -> "$argon2id$v=19$..."
    verify_login_password(plain, stored)  -> (ok, needs_rehash)

V1 stored bcrypt (`$2a$`/`$2b$`/`$2y$`); those verify here and report `needs_rehash`
so the caller stores an argon2id hash at the next successful login, so migrated
accounts move to argon2id without a password reset.
"""

from __future__ import annotations

import hmac
from functools import lru_cache

import bcrypt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
ARGON2ID_PREFIX = "$argon2id$"
# bcrypt only looks at the first 72 bytes; longer inputs raise in bcrypt>=4.1.
BCRYPT_MAX_BYTES = 72
MAX_PASSWORD_CHARS = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults are RFC 9106's second recommended profile (t=3, m=64 MiB, p=4).
    return PasswordHasher(type=Type.ID)


def hash_login_password(plain: str) -> str:
    """An argon2id hash of `plain` (PHC string)."""
    if len(plain) > MAX_PASSWORD_CHARS:
        raise ValueError(f"password longer than {MAX_PASSWORD_CHARS} characters")
    return _hasher().hash(plain)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real argon2id hash of nothing in particular, verified for unknown usernames so a
    login takes the same time whether or not the name exists."""
    return hash_login_password("jopanel timing equaliser")


def verify_login_password(plain: str, stored: str | None) -> tuple[bool, bool]:
    """Check `plain` against `stored`; returns (ok, needs_rehash).

    An empty, unknown-format or malformed hash never matches (and still costs one
    argon2 verification, keeping timing flat).
    """
    if not stored or len(plain) > MAX_PASSWORD_CHARS:
        _burn(plain)
        return False, False
    if stored.startswith(ARGON2ID_PREFIX):
        hasher = _hasher()
        try:
            hasher.verify(stored, plain)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        return True, hasher.check_needs_rehash(stored)
    if stored.startswith(BCRYPT_PREFIXES):
        secret = plain.encode("utf-8")
        if len(secret) > BCRYPT_MAX_BYTES:
            # What V1 (Go's bcrypt) would have refused to hash in the first place.
            return False, False
        candidate = stored.encode("ascii", "replace")
        if candidate.startswith(b"$2y$"):
            candidate = b"$2b$" + candidate[4:]  # PHP's $2y$ is the same algorithm
        try:
            ok = bcrypt.checkpw(secret, candidate)
        except ValueError:
            return False, False
        return ok, ok
    _burn(plain)
    return False, False


def _burn(plain: str) -> None:
    """Spend one argon2 verification so failure paths cost what success paths do."""
    try:
        _hasher().verify(dummy_hash(), plain[:MAX_PASSWORD_CHARS])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
