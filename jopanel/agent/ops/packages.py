"""Package (hosting plan) ops."""

from __future__ import annotations

from typing import Any

from ...schemas import Package
from ...schemas.base import PackageName
from ...schemas.bundle import parse_model
from ..context import Call
from ..registry import OpResult, Payload, op


class PackageRef(Payload):
    name: PackageName


class PackageWrite(Payload):
    name: PackageName
    values: dict[str, Any] = {}


class Empty(Payload):
    pass


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


@op("package_update", PackageWrite, target="name")
def package_update(call: Call, p: PackageWrite) -> OpResult:
    current = call.ctx.packages.get(p.name)
    package = parse_model(Package, {**current.model_dump(), **p.values, "name": p.name}, "package")
    changed = package != current
    if not call.dry_run and changed:
        call.ctx.packages.save(package, update=True)
    return OpResult(
        changed=changed,
        plan=[f"update package {p.name}"] if changed else [],
        data=package.model_dump(mode="json"),
    )


@op("package_delete", PackageRef, target="name")
def package_delete(call: Call, p: PackageRef) -> OpResult:
    users = _in_use(call, p.name)
    call.ctx.packages.get(p.name)
    if not call.dry_run:
        call.ctx.packages.delete(p.name, in_use=bool(users))
    return OpResult(changed=True, plan=[f"delete package {p.name}"])
