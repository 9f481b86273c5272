"""`verify_password`: the panel login of a hosting account, checked against its shadow entry.

The account's system password is its only password (SFTP, SSH and the panel alike), so
the unprivileged API asks the agent. The check costs one crypt(3) whether or not the
account exists; V1's bcrypt hashes verify as they are (libxcrypt) and a successful login
rehashes to the system default (yescrypt). A suspended account's hash is locked (`!`):
the answer then says `suspended` once the password is right, and nothing is rehashed.

`password_stamp`: a short keyed digest of the account's shadow hash. A panel session is
opened on the stamp of the hash its password was checked against and ends once the
stamp differs, so a new password from any path (the panel, `passwd` over SSH, an admin's
`chpasswd`) ends the sessions opened before it. The digest is keyed with the panel's
secret and cut short: it tells whether the hash changed and nothing about the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

from pydantic import Field, SecretStr

from ...errors import JoPanelError
from ...schemas.summary import AccountSummary, identity_stamp
from ...settings import Settings
from ...system.crypt import YESCRYPT, hash_system_password, verify_system_password
from ..context import Call
from ..registry import OpResult, Payload, op
from .users import Username, UserRef

STAMP_CHARS = 32


def password_stamp_of(settings: Settings, shadow_hash: str) -> str:
    """The stamp of one shadow hash (locked or not: a lock is a change too)."""
    try:
        key = settings.secret_key_path.read_bytes().strip()
    except OSError as exc:
        raise JoPanelError(f"cannot read the secret key {settings.secret_key_path}: {exc}") from exc
    message = b"jopanel password stamp\0" + shadow_hash.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:STAMP_CHARS]


class VerifyPassword(Payload):
    username: Username
    password: SecretStr = Field(max_length=1024)
    ip: str | None = Field(None, max_length=64)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_system_password("jopanel timing equaliser")


def _ip(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value) if value else None
    except ValueError:
        return None


@op("verify_password", VerifyPassword, reads_only=True)
def verify_password(call: Call, p: VerifyPassword) -> OpResult:
    ctx = call.ctx
    name = p.username
    secret = p.password.get_secret_value()
    if not ctx.store.exists(name):
        verify_system_password(secret, _dummy_hash())  # the same cost as a real check
        return OpResult(changed=False, data={"ok": False})
    stored = ctx.accounts.shadow_hash(name) or ""
    if not verify_system_password(secret, stored.lstrip("!")):
        return OpResult(changed=False, data={"ok": False})
    changed = False
    with ctx.store.lock(name):
        # set_password holds this lock: re-read, so the stamp names the hash now stored,
        # and a hash set since the check above must match the password as well.
        current = ctx.accounts.shadow_hash(name) or ""
        if current != stored:
            if not verify_system_password(secret, current.lstrip("!")):
                return OpResult(changed=False, data={"ok": False})
            stored = current
        config = ctx.store.read(name)
        account = config.account
        if stored.startswith("!") and account.status == "active":
            # Locked in shadow but active in its config: drift for reconcile to settle,
            # never a login (and never a rehash that would drop the lock).
            return OpResult(changed=False, data={"ok": False})
        if account.status == "active" and not call.dry_run:
            # Rehash only the hash that was checked: a password set meanwhile stands.
            if (
                not stored.startswith(YESCRYPT.decode())
                and ctx.accounts.shadow_hash(name) == stored
            ):
                rehashed = hash_system_password(secret)
                ctx.accounts.set_hash(name, rehashed)
                stored = rehashed
                changed = True
            ip = _ip(p.ip)
            if ip is not None and str(account.last_login_ip or "") != str(ip):
                new = config.with_(account=account.model_copy(update={"last_login_ip": ip}))
                config = ctx.store.write(
                    new, expected_revision=config.revision, actor=name, action="login"
                ).config
                changed = True
    return OpResult(
        changed=changed,
        data={
            "ok": True,
            "uid": config.account.uid,
            "created_at": identity_stamp(config.account),
            "status": config.account.status,
            "summary": AccountSummary.of(config.account, config.revision).row(),
            "password_stamp": password_stamp_of(ctx.settings, stored),
        },
    )


@op("password_stamp", UserRef, reads_only=True)
def password_stamp(call: Call, p: UserRef) -> OpResult:
    """The stamp of the account's shadow hash now (None: no shadow entry)."""
    stored = call.ctx.accounts.shadow_hash(p.username)
    stamp = password_stamp_of(call.ctx.settings, stored) if stored is not None else None
    return OpResult(changed=False, data={"stamp": stamp})
