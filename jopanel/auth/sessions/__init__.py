"""Panel logins: who may log in, JWT access tokens, rotating refresh tokens, throttling.

One job per module:

- model.py: roles, canonical login names, identities, principals, token pairs.
- tokens.py: HS256 access tokens (pinned algorithm, required `exp`).
- store.py: sessions and their single-use refresh tokens in the panel database.
- holder.py: the check at every request and refresh that a session's holder is still
  who logged in (identity, password stamp, staff role, login-as visibility).
- throttle.py: failed logins per account and per address, shared by every API worker.
- client_address.py: the client's IP (X-Forwarded-For only from a trusted proxy).
- service.py: `AuthService`, the flows: login, login-as, refresh, logout.

Identity (docs/identity.md): a hosting account's password is its shadow entry, checked by
the agent (`verify_password`); the `users` table holds staff logins (admins, resellers:
argon2id, V1 bcrypt rehashed at the next login) and roles.
"""

from .client_address import ClientAddress, client_ip
from .model import (
    ROLES,
    STAFF_ROLES,
    AccountCheck,
    AccountDirectory,
    Identity,
    Principal,
    Role,
    TokenPair,
    aware,
    canonical_login_name,
    utcnow,
)
from .service import FAILURE_FLOOR_SECONDS, AuthService
from .store import REFRESH_TTL, SessionStore, revoke_sessions
from .throttle import LoginThrottle
from .tokens import ACCESS_TTL, ALGORITHM, ISSUER, TokenSigner, load_secret

__all__ = [
    "ACCESS_TTL",
    "ALGORITHM",
    "FAILURE_FLOOR_SECONDS",
    "ISSUER",
    "REFRESH_TTL",
    "ROLES",
    "STAFF_ROLES",
    "AccountCheck",
    "AccountDirectory",
    "AuthService",
    "ClientAddress",
    "Identity",
    "LoginThrottle",
    "Principal",
    "Role",
    "SessionStore",
    "TokenPair",
    "TokenSigner",
    "aware",
    "canonical_login_name",
    "client_ip",
    "load_secret",
    "revoke_sessions",
    "utcnow",
]
