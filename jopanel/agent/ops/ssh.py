"""SSH and PHP ops: authorized keys by fingerprint, the SSH mode, the PHP version.

Keys are checked twice: by JoPanel's own parser (type allow-list, no options, RSA >= 2048
bits, no DSA) and by the real `ssh-keygen -l`, whose SHA256 fingerprint must agree with
ours. The fingerprint is the key's identity in the API (`DELETE .../ssh-keys/{fp}`); the
URL-safe base64 alphabet (`-`, `_`) is accepted for it too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ... import validate
from ...errors import CommandFailed, Conflict, NotFound, ValidationFailed
from ...schemas import UserConfig
from ...schemas.base import SshKey, Username
from ...schemas.hosting import PHP_VERSION_RE
from ...system.phpfpm import installed_versions
from ...system.sshd import key_fingerprint
from ..context import Call
from ..registry import OpResult, Payload, op
from ..transaction import change_account

MAX_KEYS = 100


def _fingerprint(value: str) -> str:
    return value.replace("-", "+").replace("_", "/").rstrip("=")


Fingerprint = Annotated[
    str,
    Field(pattern=r"^SHA256:[A-Za-z0-9+/_-]{43}=?$"),
    AfterValidator(_fingerprint),
]


class SshRef(Payload):
    username: Username


class SshKeyAdd(Payload):
    username: Username
    key: SshKey


class SshKeyRemove(Payload):
    username: Username
    fingerprint: Fingerprint


class SshModeSet(Payload):
    username: Username
    mode: Literal["sftp_chroot", "shell", "disabled"]
    allow_port_forwarding: bool | None = None
    allow_agent_forwarding: bool | None = None
    allow_x11_forwarding: bool | None = None


class PhpVersionSet(Payload):
    username: Username
    version: str = Field(pattern=PHP_VERSION_RE)


def key_row(line: str) -> dict[str, str]:
    parts = line.split(None, 2)
    return {
        "fingerprint": validate.ssh_fingerprint(line),
        "type": parts[0],
        "comment": parts[2] if len(parts) == 3 else "",
        "key": line,
    }


@op("ssh_key_list", SshRef, reads_only=True)
def ssh_key_list(call: Call, p: SshRef) -> OpResult:
    config = call.ctx.store.read(p.username)
    return OpResult(changed=False, data=[key_row(k) for k in config.ssh.authorized_keys])


@op("ssh_key_add", SshKeyAdd)
def ssh_key_add(call: Call, p: SshKeyAdd) -> OpResult:
    ours = validate.ssh_fingerprint(p.key)
    try:
        theirs = key_fingerprint(call.ctx.runner, p.key)
    except (CommandFailed, ValueError) as exc:
        raise ValidationFailed(f"ssh-keygen does not accept the key: {exc}", field="key") from None
    if theirs != ours:
        raise ValidationFailed(f"fingerprints disagree ({ours} vs {theirs})", field="key")

    def mutate(config: UserConfig) -> UserConfig:
        keys = config.ssh.authorized_keys
        if any(validate.ssh_fingerprint(k) == ours for k in keys):
            raise Conflict(f"key {ours} is already authorized", field="key")
        if len(keys) >= MAX_KEYS:
            raise Conflict(f"at most {MAX_KEYS} keys per account", field="key")
        return config.with_(ssh=config.ssh.model_copy(update={"authorized_keys": [*keys, p.key]}))

    result = change_account(call, p.username, "ssh_key_add", mutate)
    result.data = key_row(p.key)
    return result


@op("ssh_key_remove", SshKeyRemove)
def ssh_key_remove(call: Call, p: SshKeyRemove) -> OpResult:
    def mutate(config: UserConfig) -> UserConfig:
        keys = config.ssh.authorized_keys
        kept = [k for k in keys if validate.ssh_fingerprint(k) != p.fingerprint]
        if len(kept) == len(keys):
            raise NotFound(f"no key {p.fingerprint}", field="fingerprint")
        return config.with_(ssh=config.ssh.model_copy(update={"authorized_keys": kept}))

    result = change_account(call, p.username, "ssh_key_remove", mutate)
    result.data = {"fingerprint": p.fingerprint}
    return result


@op("ssh_mode_set", SshModeSet)
def ssh_mode_set(call: Call, p: SshModeSet) -> OpResult:
    flags = p.model_dump(include={"allow_port_forwarding", "allow_agent_forwarding",
                                  "allow_x11_forwarding"}, exclude_none=True)  # fmt: skip

    def mutate(config: UserConfig) -> UserConfig:
        update = {"mode": p.mode, "enabled": p.mode != "disabled", **flags}
        return config.with_(ssh=config.ssh.model_copy(update=update))

    result = change_account(call, p.username, "ssh_mode_set", mutate)
    result.data = {"mode": p.mode, **flags}
    return result


@op("php_version_set", PhpVersionSet)
def php_version_set(call: Call, p: PhpVersionSet) -> OpResult:
    available = installed_versions()
    if p.version not in available:
        raise ValidationFailed(
            f"PHP {p.version} is not installed (installed: {', '.join(available) or 'none'})",
            field="version",
        )

    def mutate(config: UserConfig) -> UserConfig:
        php = config.services.php.model_copy(update={"version": p.version})
        return config.with_(services=config.services.model_copy(update={"php": php}))

    result = change_account(call, p.username, "php_version_set", mutate)
    result.data = {"version": p.version, "installed": available}
    return result
