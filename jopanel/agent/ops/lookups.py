"""Read-only lookups for callers that check accounts from outside the agent (migrate-v1).

`domain_owners`: which live account holds each hostname. `account_system_state`: what
the Linux side of an account looks like (passwd entry, home, password lock), and whether
its password hash is one the caller expects, without ever answering the hash itself:
every op is reachable from the unprivileged API process.
"""

from __future__ import annotations

import hmac
from typing import Any

from pydantic import Field

from ...auth.passwords import BCRYPT_PREFIXES
from ...schemas.base import Domain
from ..context import Call
from ..registry import OpResult, Payload, op
from .users import Username

DOMAIN_OWNERS_MAX = 10_000
HASH_MAX = 512


class DomainOwners(Payload):
    domains: list[Domain] = Field(max_length=DOMAIN_OWNERS_MAX)


class AccountSystemState(Payload):
    username: Username
    # Compared with the shadow hash (leading '!' removed); never echoed back.
    expected_hash: str | None = Field(None, max_length=HASH_MAX)


@op("domain_owners", DomainOwners, target=None, reads_only=True)
def domain_owners(call: Call, p: DomainOwners) -> OpResult:
    """{hostname: the account claiming it, or null}; a claim counts only while the
    account it names exists (a claim left by a deleted account holds nothing)."""
    ctx = call.ctx
    owners: dict[str, str | None] = {}
    for hostname in p.domains:
        owner = ctx.claims.owner(hostname)
        owners[hostname] = owner if owner is not None and ctx.store.exists(owner) else None
    return OpResult(changed=False, data=owners)


@op("account_system_state", AccountSystemState, reads_only=True)
def account_system_state(call: Call, p: AccountSystemState) -> OpResult:
    """The Linux user (uid, gid, home, shell) or null, whether the home exists, whether
    the password is locked, whether the hash matches `expected_hash` (null when none is
    given) and whether it is a bcrypt hash (a V1 one, not yet rehashed in V2)."""
    accounts = call.ctx.accounts
    entry = accounts.get(p.username)
    user: dict[str, Any] | None = None
    if entry is not None:
        user = {"uid": entry.uid, "gid": entry.gid, "home": entry.home, "shell": entry.shell}
    shadow = accounts.shadow_hash(p.username) or ""
    current = shadow.lstrip("!")
    data = {
        "user": user,
        "home_exists": accounts.home_state(p.username).exists,
        "locked": shadow.startswith("!"),
        "hash_matches": None
        if p.expected_hash is None
        else hmac.compare_digest(current.encode(), p.expected_hash.encode()),
        "hash_is_bcrypt": current.startswith(BCRYPT_PREFIXES),
    }
    return OpResult(changed=False, data=data)
