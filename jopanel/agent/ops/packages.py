"""Package (hosting plan) ops."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ...errors import Conflict
from ...schemas import LIMIT_FIELDS, Limits, Package, UserConfig
from ...schemas.account import POLICY_FIELDS
from ...schemas.base import PackageName
from ...schemas.bundle import parse_model
from .. import journal
from ..context import Call
from ..limits_check import check_limits
from ..registry import OpResult, Payload, op
from ..transaction import change_account
from ..usage import known_disk_mb

log = logging.getLogger("jopanel.agent.ops.packages")


class PackageRef(Payload):
    name: PackageName


class PackageWrite(Payload):
    name: PackageName
    values: dict[str, Any] = {}


class Empty(Payload):
    pass


IN_USE_SHOWN = 20


def _in_use(call: Call, name: str) -> list[str]:
    users = []
    for username in call.ctx.store.list_usernames():
        try:
            if call.ctx.store.read(username).account.package == name:
                users.append(username)
        except Exception:  # noqa: BLE001 - unreadable accounts are reconcile's business
            continue
    return users


@op("package_list", Empty, target=None, reads_only=True)
def package_list(call: Call, p: Empty) -> OpResult:
    return OpResult(
        changed=False, data=[pk.model_dump(mode="json") for pk in call.ctx.packages.list()]
    )


@op("package_get", PackageRef, target="name", reads_only=True)
def package_get(call: Call, p: PackageRef) -> OpResult:
    return OpResult(changed=False, data=call.ctx.packages.get(p.name).model_dump(mode="json"))


@op("package_create", PackageWrite, target="name")
def package_create(call: Call, p: PackageWrite) -> OpResult:
    package = parse_model(Package, {**p.values, "name": p.name}, "package")
    if call.dry_run:
        return OpResult(
            changed=not call.ctx.packages.exists(p.name), plan=[f"create package {p.name}"]
        )
    call.ctx.packages.save(package, create=True)
    return OpResult(
        changed=True, plan=[f"create package {p.name}"], data=package.model_dump(mode="json")
    )


class PackageEdit(PackageWrite):
    # Apply limits below an account's current usage anyway (refused with 409 otherwise).
    force: bool = False


def follow(limits: Limits, old: Limits, new: Limits) -> Limits:
    """An account's limits after its package changed from `old` to `new`: a field
    follows the package only while it still equals the old package value; a field an
    admin set to something else for this account (an override) is kept."""
    values = {
        f: getattr(new, f) if getattr(limits, f) == getattr(old, f) else getattr(limits, f)
        for f in LIMIT_FIELDS + POLICY_FIELDS
    }
    return Limits.model_validate(values)


def _journal_account(call: Call, username: str, package: str, before: Limits) -> None:
    after = call.ctx.store.read(username).limits
    changes = [
        f"{f} {getattr(before, f)}->{getattr(after, f)}"
        for f in LIMIT_FIELDS + POLICY_FIELDS
        if getattr(before, f) != getattr(after, f)
    ]
    journal.append(
        call.ctx.settings,
        journal.entry(
            actor=call.actor,
            action="package_update",
            target=username,
            result="ok",
            detail=f"limits from package {package}: " + ", ".join(changes),
        ),
    )


@op("package_update", PackageEdit, target="name")
def package_update(call: Call, p: PackageEdit) -> OpResult:
    """Save the package, then give each account on it the new limits through
    `change_account` (a revision each, with history); all or nothing."""
    ctx = call.ctx
    current = ctx.packages.get(p.name)
    package = parse_model(Package, {**current.model_dump(), **p.values, "name": p.name}, "package")
    old_limits, new_limits = current.limits(), package.limits()
    targets: list[tuple[str, Limits]] = []  # (account, its limits before)
    problems: list[str] = []
    for username in _in_use(call, p.name):
        config = ctx.store.read(username)
        wanted = follow(config.limits, old_limits, new_limits)
        if wanted == config.limits:
            continue
        found = check_limits(
            config, wanted, force=True, disk_used_mb=known_disk_mb(ctx, config), who=username
        )
        problems += [f"{username}: {problem}" for problem in found]
        targets.append((username, config.limits))
    if problems and not p.force:
        raise Conflict("; ".join(problems) + " (use force to apply anyway)", field="limits")
    changed = package != current
    plan = [f"update package {p.name}"] if changed else []
    plan += [f"update limits of {username}" for username, _ in targets]
    data = {
        **package.model_dump(mode="json"),
        "accounts_updated": [username for username, _ in targets],
        "forced": problems,
    }
    if call.dry_run:
        return OpResult(changed=False, plan=plan, data=data)
    if changed:
        ctx.packages.save(package, update=True)
    done: list[tuple[str, Limits]] = []
    try:
        for username, before in targets:
            change_account(
                call,
                username,
                "package_update",
                lambda c: c.with_(limits=follow(c.limits, old_limits, new_limits)),
            )
            done.append((username, before))
            _journal_account(call, username, p.name, before)
    except Exception:
        # All or nothing: accounts already moved get their old limits back, then the
        # package its old values.
        for username, before in reversed(done):
            try:
                change_account(call, username, "package_update_undo", _set_limits(before))
            except Exception:  # noqa: BLE001 - keep undoing; reconcile reports the rest
                log.exception("package_update: could not restore limits of %s", username)
        if changed:
            ctx.packages.save(current, update=True)
        raise
    return OpResult(changed=changed or bool(targets), plan=plan, data=data)


def _set_limits(limits: Limits) -> Callable[[UserConfig], UserConfig]:
    return lambda c: c.with_(limits=limits)


@op("package_delete", PackageRef, target="name")
def package_delete(call: Call, p: PackageRef) -> OpResult:
    users = _in_use(call, p.name)
    call.ctx.packages.get(p.name)
    if users:  # name them, so the admin knows whom to move
        shown = ", ".join(users[:IN_USE_SHOWN])
        if len(users) > IN_USE_SHOWN:
            shown += f" and {len(users) - IN_USE_SHOWN} more"
        raise Conflict(
            f"package {p.name!r} is used by accounts: {shown}; move them first "
            "(`jopanel user update NAME --package OTHER`)",
            field="package",
        )
    if not call.dry_run:
        call.ctx.packages.delete(p.name, in_use=bool(users))
    return OpResult(changed=True, plan=[f"delete package {p.name}"])
