"""Account lifecycle ops: create, read, update, suspend, passwords, delete, reconcile."""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr

from ...errors import Conflict, NotFound, ValidationFailed
from ...schemas import Limits, UserConfig, base
from ...schemas.account import Shell, Status
from ...schemas.base import Domain, Email, PackageName, PanelName
from ...schemas.bundle import parse_model
from ...schemas.changes import AccountChange
from ...schemas.summary import AccountSummary, AccountView
from ...store.locks import global_lock
from ...system import leftovers
from ...system.crypt import hash_system_password
from .. import unfinished
from ..cert_drift import retire_account
from ..context import AgentContext, Call
from ..converge import converge
from ..databases import drop_account, dump_account, restore_account
from ..domain_rules import check_hostname_available
from ..flow import Flow
from ..hosting import Hosting, background, install_account, prune_orphans, remove_account
from ..limits_check import check_limits
from ..registry import OpResult, Payload, execute, op
from ..stats import account_stats, forget_account
from ..transaction import account_view, change_account, claim_domains
from ..usage import known_disk_mb
from .build import new_config

Username = base.Username
Password = Annotated[SecretStr, Field(min_length=8, max_length=256)]
CryptHash = Annotated[str, Field(pattern=r"^\$(y|2[aby]|6|5|gy)\$[./A-Za-z0-9$=,]{8,200}$")]


class UserRef(Payload):
    username: Username


class CreateUser(Payload):
    username: Username
    password: Password | None = None
    password_hash: CryptHash | None = None
    contact_email: Email
    primary_domain: Domain
    package: PackageName = "default"
    owner: PanelName = "admin"
    shell: Shell = "/bin/bash"
    status: Status = "active"
    created_at: datetime | None = None


class UpdateUser(AccountChange, Payload):
    username: Username
    expected_revision: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")
    # Apply limits below current usage anyway (limits_check refuses them otherwise).
    force: bool = False


class SetPassword(Payload):
    username: Username
    password: Password


class Reconcile(Payload):
    username: Username | None = None


class ListUsers(Payload):
    search: str | None = Field(None, max_length=100)


def _summary(config: UserConfig) -> dict[str, Any]:
    return AccountSummary.of(config.account, config.revision).row()


def _check_name_free(ctx: AgentContext, username: str) -> None:
    if ctx.store.exists(username):
        raise Conflict(f"account {username!r} already exists", field="username")
    if username in ctx.accounts.host_names():
        raise Conflict(f"{username!r} is an existing system account", field="username")


def _drop_group(ctx: AgentContext, name: str) -> None:
    if name in ctx.accounts.groups():
        ctx.accounts.groupdel(name)


def _drop_user(ctx: AgentContext, name: str) -> None:
    """Undo of useradd, safe to run whatever part of it happened."""
    if ctx.accounts.get(name) is not None:
        ctx.accounts.userdel(name)
    ctx.accounts.remove_home(name)


@op("create_user", CreateUser, returns=AccountView)
def create_user(call: Call, p: CreateUser) -> OpResult:
    ctx = call.ctx
    name = p.username
    package = ctx.packages.get(p.package)
    if p.password is not None and p.password_hash is not None:
        raise ValidationFailed("give either password or password_hash", field="password")
    # yescrypt is 15 ms of CPU: hashed in another thread while the account is made.
    secret = p.password.get_secret_value() if p.password else None
    hashing = background(hash_system_password, secret) if secret else None
    with ctx.store.lock(name), ExitStack() as marked, Flow(call, "create_user") as flow:
        _check_name_free(ctx, name)
        check_hostname_available(ctx, name, p.primary_domain, "primary_domain")
        if not call.dry_run:  # from here a death half-way is rolled back later (unfinished.py)
            marked.enter_context(unfinished.creating(ctx.settings, name))
        with global_lock(ctx.settings, "uids"):
            uid = ctx.accounts.allocate_id(reserve=not call.dry_run)
            config = new_config(
                username=name, uid=uid, gid=uid, primary_domain=p.primary_domain,
                contact_email=p.contact_email, package=package.name, limits=package.limits(),
                owner=p.owner, shell=p.shell, status=p.status, created_at=p.created_at,
            )  # fmt: skip
            hosting = Hosting(ctx)
            if not call.dry_run:  # nginx -t and sshd -t run while the user is made
                hosting.start_checks(config, with_pool=False)
            for www in config.domains.www_names():  # claimed with the primary
                check_hostname_available(ctx, name, www, "primary_domain")
            claim_domains(flow, call, name, config.domains.served_names())
            written: list[UserConfig] = []
            flow.step(
                "write_config",
                lambda: written.append(
                    ctx.store.write(
                        config,
                        expected_revision=None,
                        actor=call.actor,
                        action="create",
                        create=True,
                    ).config
                ),
                undo=lambda: ctx.store.remove(name),
                idempotent_undo=True,
                describe=f"write {ctx.settings.users_dir / name}",
            )
            flow.step(
                "groupadd",
                lambda: ctx.accounts.groupadd(name, uid),
                undo=lambda: _drop_group(ctx, name),
                idempotent_undo=True,
                describe=f"groupadd -g {uid} {name}",
            )
            flow.step(
                "useradd",
                lambda: ctx.accounts.useradd(name, uid, uid, p.shell),
                undo=lambda: _drop_user(ctx, name),
                idempotent_undo=True,
                describe=f"useradd -u {uid} {name} (home 0750)",
            )
        if not call.dry_run:  # php-fpm -t needs the pool's user: it runs from here on
            hosting.start_checks(config, with_pool=True)
        hashed = p.password_hash or (hashing.result() if hashing else None)
        if hashed:
            flow.step(
                "set_password",
                lambda: ctx.accounts.set_hash(name, hashed),
                describe="set password hash",
            )
        flow.step(
            "services",
            lambda: install_account(ctx, written[0] if written else config, hosting),
            undo=lambda: remove_account(ctx, name),
            describe="document roots, nginx vhost, PHP-FPM pool, sshd Match block (checked)",
        )
        flow.step(
            "apply",
            lambda: converge(ctx, written[0] if written else config, dry_run=False),
            describe="apply status, shell and home",
        )
    if call.dry_run:
        return OpResult(changed=False, plan=flow.plan, data={"steps": flow.steps})
    created = written[0]
    return OpResult(
        changed=True,
        plan=flow.plan,
        data=account_view(created),
        account=AccountSummary.of(created.account, created.revision),
    )


@op("get_config", UserRef, reads_only=True, returns=AccountView)
def get_config(call: Call, p: UserRef) -> OpResult:
    return OpResult(changed=False, data=account_view(call.ctx.store.read(p.username)))


@op("list_users", ListUsers, target=None, reads_only=True)
def list_users(call: Call, p: ListUsers) -> OpResult:
    items = []
    needle = (p.search or "").lower()
    for name in call.ctx.store.list_usernames():
        try:
            summary = _summary(call.ctx.store.read(name))
        except (NotFound, ValidationFailed):
            continue
        if needle and not any(
            needle in str(v).lower() for k, v in summary.items() if k not in ("uid", "created_at")
        ):
            continue
        items.append(summary)
    return OpResult(changed=False, data=items)


def _apply_patch(ctx: AgentContext, config: UserConfig, p: UpdateUser) -> UserConfig:
    account_updates: dict[str, Any] = {}
    limits = config.limits
    domains = config.domains
    if p.account is not None:
        account_updates = p.account.model_dump(exclude_none=True)
        new_package = account_updates.get("package")
        if new_package and new_package != config.account.package:
            limits = ctx.packages.get(new_package).limits()
        new_primary = account_updates.get("primary_domain")
        if new_primary and new_primary != domains.primary:
            check_hostname_available(ctx, config.username, new_primary, "primary_domain")
            if new_primary in domains.all_names():
                raise Conflict(
                    f"{new_primary} is already one of this account's domains",
                    field="primary_domain",
                )
            domains = domains.model_copy(update={"primary": new_primary})
    if p.limits is not None:
        merged = {**limits.model_dump(), **p.limits.model_dump(exclude_none=True)}
        limits = parse_model(Limits, merged, "limits")
    if limits != config.limits:
        check_limits(config, limits, force=p.force, disk_used_mb=known_disk_mb(ctx, config))
    account = parse_model(
        type(config.account), {**config.account.model_dump(), **account_updates}, "account"
    )
    meta = config.meta
    if p.meta is not None and p.meta.notes is not None:
        meta = meta.model_copy(update={"notes": p.meta.notes})
    return config.with_(account=account, limits=limits, domains=domains, meta=meta)


@op("update_user_config", UpdateUser, returns=AccountView)
def update_user_config(call: Call, p: UpdateUser) -> OpResult:
    return change_account(
        call, p.username, "update_user", lambda c: _apply_patch(call.ctx, c, p), p.expected_revision
    )


def _set_status(call: Call, name: str, status: str, flow_name: str) -> OpResult:
    def mutate(config: UserConfig) -> UserConfig:
        return config.with_(account=config.account.model_copy(update={"status": status}))

    return change_account(call, name, flow_name, mutate)


@op("suspend_user", UserRef, returns=AccountView)
def suspend_user(call: Call, p: UserRef) -> OpResult:
    return _set_status(call, p.username, "suspended", "suspend_user")


@op("unsuspend_user", UserRef, returns=AccountView)
def unsuspend_user(call: Call, p: UserRef) -> OpResult:
    return _set_status(call, p.username, "active", "unsuspend_user")


@op("set_password", SetPassword)
def set_password(call: Call, p: SetPassword) -> OpResult:
    ctx = call.ctx
    with ctx.store.lock(p.username), Flow(call, "set_password") as flow:
        config = ctx.store.read(p.username)
        hashed = hash_system_password(p.password.get_secret_value())
        if config.account.status == "suspended":
            hashed = "!" + hashed  # a new password must not lift a suspension
        flow.step(
            "set_hash",
            lambda: ctx.accounts.set_hash(p.username, hashed),
            describe="set password hash",
        )
    return OpResult(changed=True, plan=flow.plan)


@op("delete_user", UserRef)
def delete_user(call: Call, p: UserRef) -> OpResult:
    ctx = call.ctx
    name = p.username
    with ctx.store.lock(name), ExitStack() as marked, Flow(call, "delete_user") as flow:
        config = ctx.store.read(name)
        if not call.dry_run:  # from here a death half-way is carried through (unfinished.py)
            marked.enter_context(unfinished.deleting(ctx.settings, name))
        domains = config.domains.served_names()
        entry = ctx.accounts.get(name)
        old_hash = ctx.accounts.shadow_hash(name)
        archived: list[os.PathLike[str]] = []
        flow.step(
            "archive_config",
            lambda: archived.append(ctx.store.archive(name)),
            undo=lambda: ctx.store.restore_archive(name, archived[0]),  # type: ignore[arg-type]
            describe=f"archive config under {ctx.settings.archive_dir}",
        )
        has_databases = bool(config.services.databases.names())
        if has_databases:  # dumped into the account's archive before anything is dropped
            flow.step(
                "dump_databases",
                lambda: dump_account(ctx, config, Path(archived[0])),
                undo=lambda: shutil.rmtree(Path(archived[0]) / "databases", ignore_errors=True),
                idempotent_undo=True,
                describe=f"dump {', '.join(config.services.databases.names())} into the archive",
            )
        flow.step(
            "release_domains",
            lambda: ctx.claims.release(name, domains),
            undo=lambda: ctx.claims.claim(name, domains),
            describe=f"release {', '.join(domains)}",
        )
        flow.step(
            "remove_services",
            lambda: remove_account(ctx, name),
            undo=lambda: install_account(ctx, config),
            describe="remove nginx vhost, PHP-FPM pool, sshd Match block",
        )
        uid = entry.uid if entry is not None else config.account.uid
        flow.step(
            "end_processes",
            lambda: leftovers.end_processes(ctx.runner, uid),
            describe=f"kill every process of uid {uid}",
        )
        if entry is not None:

            def restore_user() -> None:
                if name not in ctx.accounts.groups():
                    ctx.accounts.groupadd(name, entry.gid)
                ctx.accounts.useradd(
                    name, entry.uid, entry.gid, entry.shell, home=entry.home, create_home=False
                )
                if old_hash:
                    ctx.accounts.set_hash(name, old_hash)

            flow.step(
                "userdel",
                lambda: ctx.accounts.userdel(name),
                undo=restore_user,
                describe=f"userdel {name}",
            )
        if name in ctx.accounts.groups():
            gid = config.account.gid
            flow.step(
                "groupdel",
                lambda: ctx.accounts.groupdel(name),
                undo=lambda: ctx.accounts.groupadd(name, gid),
                describe=f"groupdel {name}",
            )
        if has_databases or config.services.databases.users:
            flow.step(
                "drop_databases",
                lambda: drop_account(ctx, config),
                undo=lambda: restore_account(ctx, config, Path(archived[0])),
                idempotent_undo=True,
                describe="drop the account's MariaDB users and databases",
            )
        flow.step(
            "remove_home",
            lambda: ctx.accounts.remove_home(name),
            describe=f"remove {ctx.settings.home_of(name)}",
        )
        flow.step(
            "remove_crontab",
            lambda: leftovers.remove_crontab(ctx.settings, name),
            describe=f"remove {ctx.settings.crontab_dir / name}",
        )
        flow.step(
            "forget_usage",
            lambda: forget_account(ctx.settings, name),
            describe="remove its cached disk usage and bandwidth counts",
        )
        flow.step(
            "remove_certificates",
            lambda: retire_account(ctx, name),
            describe=f"revoke (ACME) and remove the certificates of {name}",
        )
        flow.step(
            "remove_leftovers",
            lambda: leftovers.remove_owned_files(ctx.settings, uid, name),
            describe=f"remove files of uid {uid} in tmp, var/tmp, dev/shm and its mail spool",
        )
    if call.dry_run:
        return OpResult(changed=False, plan=flow.plan, data={"steps": flow.steps})
    return OpResult(changed=True, plan=flow.plan, data={"archive": str(archived[0])})


class StatsRef(Payload):
    username: Username
    refresh: bool = False  # walk the home again even if a recent figure is cached


@op("user_stats", StatsRef, reads_only=True)
def user_stats(call: Call, p: StatsRef) -> OpResult:
    config = call.ctx.store.read(p.username)
    stats = account_stats(call.ctx, config, refresh=p.refresh, actor=call.actor)
    return OpResult(changed=False, data=stats)


def reconcile_one(call: Call, name: str) -> dict[str, Any]:
    """Adopt a valid hand edit, report an invalid one, then repair system drift."""
    ctx = call.ctx
    report: dict[str, Any] = {"username": name, "changes": [], "error": None}
    with ctx.store.lock(name):
        inspection = ctx.store.inspect(name)
        if inspection.error is not None:
            report["error"] = str(inspection.error)
            return report
        if inspection.hand_edited:
            report["changes"].append("config edited by hand: adopted as a new revision")
            if not call.dry_run:
                ctx.store.adopt(name, actor=call.actor)
        config = ctx.store.read(name)
        report["changes"] += converge(ctx, config, dry_run=call.dry_run)
    return report


@op("apply_user", UserRef)
def apply_user(call: Call, p: UserRef) -> OpResult:
    report = reconcile_one(call, p.username)
    if report["error"]:
        raise ValidationFailed(report["error"], field="config")
    return OpResult(changed=bool(report["changes"]), plan=report["changes"], data=report)


def finish_unfinished(ctx: AgentContext, *, dry_run: bool = False) -> list[str]:
    """Roll back creates and carry through deletes that died half-way (unfinished.py)."""
    done: list[str] = []
    for kind, name in unfinished.markers(ctx.settings):
        with ctx.store.lock(name):  # an op still running holds it until it returns
            if not unfinished.still_marked(ctx.settings, kind, name):
                continue
            verb = "roll back" if kind == "create" else "finish"
            done.append(f"{verb} the unfinished {kind} of {name}")
            if dry_run:
                continue
            if kind == "delete" and not ctx.store.exists(name):
                ctx.store._archive_orphan(name)  # died between unlinking and archiving
                archived = unfinished.newest_archive(ctx.settings, name)
                if archived is not None:  # back in place, so delete_user runs whole
                    ctx.store.restore_archive(name, archived)
            if ctx.store.exists(name):
                execute(ctx, "delete_user", {"username": name}, actor=f"unfinished {kind}")
            else:  # a create that died before its config was written
                _drop_user(ctx, name)
                _drop_group(ctx, name)
            unfinished.unmark(ctx.settings, kind, name)
    return done


@op("reconcile", Reconcile, target=None)
def reconcile(call: Call, p: Reconcile) -> OpResult:
    rolled_back = [] if p.username else finish_unfinished(call.ctx, dry_run=call.dry_run)
    names = [p.username] if p.username else call.ctx.store.list_usernames()
    reports = [reconcile_one(call, n) for n in names]
    if not call.dry_run and p.username is None:
        call.ctx.claims.rebuild()
    changed = any(r["changes"] for r in reports)
    plan = [f"{r['username']}: {c}" for r in reports for c in r["changes"]]
    if p.username is None:
        orphans = prune_orphans(call.ctx, dry_run=call.dry_run)
        changed, plan = changed or bool(orphans), plan + orphans
    changed, plan = changed or bool(rolled_back), rolled_back + plan
    return OpResult(changed=changed, plan=plan, data=reports)
