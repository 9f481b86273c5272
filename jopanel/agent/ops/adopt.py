"""`import_user`: bring an account made elsewhere (JoPanel V1) under JoPanel, whole.

Unlike `create_user` it takes the complete picture at once: every domain, the PHP
version, the limits, the status, the creation date, a crypt(3)/bcrypt hash. And it may
*adopt* a Linux user that already exists (keeping its uid, gid, home and password),
provided it is not a system account (uid/gid < 1000), not another JoPanel account's, and
its home is /home/<name>.

Idempotent and resumable: the config records where it came from in `meta.origin`, a
field only this op writes (the first line of meta.notes repeats it for people, but notes
are anyone's to edit and decide nothing). Importing again an account whose config is
current changes nothing; one this op wrote last is brought up to date; one changed in V2
since is kept as it is. Whatever the config, the system is converged (a crash between
writing the config and `useradd` is repaired by the next run).

Accounts imported before `meta.origin` existed carry their origin only in the notes. For
them the origin is read from the notes of the newest revision *this op wrote* (action
`import`, same actor) still in the history, never from the current notes; the next run
records the field (`import:origin` when the account is kept), after which only the field
counts.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Literal

from pydantic import Field

from ...errors import Conflict, NotFound
from ...schemas import (
    ALLOWED_SHELLS,
    AddonDomain,
    Domains,
    Limits,
    Subdomain,
    UserConfig,
)
from ...schemas.account import Status
from ...schemas.base import AwareDatetime, Domain, Email, PackageName, PanelName
from ...schemas.bundle import parse_model
from ...schemas.hosting import PHP_VERSION_RE, Ftp
from ...schemas.meta import ORIGIN_PATTERN
from ...schemas.summary import AccountSummary
from ...store.locks import global_lock
from ...system.accounts import PasswdEntry
from ..context import AgentContext, Call
from ..converge import converge, desired_shell
from ..flow import Flow
from ..registry import OpResult, Payload, op
from ..transaction import claim_domains
from .build import new_config
from .users import CryptHash, Username

SYSTEM_ID_MAX = 999
# Drift kinds of the Linux account itself (converge.plan_drift); the rest are services.
ACCOUNT_DRIFT = frozenset(
    {"missing_user", "uid_mismatch", "shell", "lock", "home_missing", "home_owner"}
)
Action = Literal["created", "adopted", "unchanged", "updated", "kept"]
IMPORT_ACTION = "import"  # meta.audit.last_action of a revision this op wrote
RECORD_ORIGIN_ACTION = "import:origin"  # meta.origin recorded on a legacy import, kept


class ImportUser(Payload):
    username: Username
    origin: str = Field(pattern=ORIGIN_PATTERN)
    password_hash: CryptHash | None = None
    contact_email: Email
    primary_domain: Domain
    package: PackageName = "default"
    limits: dict[str, int] | None = None
    owner: PanelName = "admin"
    status: Status = "active"
    created_at: AwareDatetime | None = None
    addon_domains: list[AddonDomain] = []
    subdomains: list[Subdomain] = []
    alias_domains: list[Domain] = []
    php_version: str = Field("8.2", pattern=PHP_VERSION_RE)
    ftp_enabled: bool = False
    notes: str = Field("", max_length=3500)
    adopt_existing: bool = True
    # False: bring only the Linux account in line (user, home, shell, lock) and leave the
    # web/PHP/SSH files to the caller, which installs many accounts' at once with one
    # `nginx -t` per batch (Hosting.rebuild) instead of one per account.
    apply_services: bool = True


ADOPTED_LINE = "Adopted the Linux user that existed (its uid, home and password kept)."


def was_adopted(config: UserConfig) -> bool:
    return ADOPTED_LINE in config.meta.notes.split("\n")[:2]


def origin_line(origin: str) -> str:
    return f"Imported ({origin})."


def _origin_in_notes(notes: object) -> str | None:
    """The origin named by an `Imported (<origin>).` first line (legacy imports only)."""
    first = notes.split("\n", 1)[0] if isinstance(notes, str) else ""
    if first.startswith("Imported (") and first.endswith(")."):
        return first[len("Imported (") : -2]
    return None


def written_by_import(config: UserConfig, actor: str) -> bool:
    """Whether this op (as `actor`) wrote the current revision: nothing changed it since."""
    audit = config.meta.audit
    return audit.last_action == IMPORT_ACTION and audit.last_actor == actor


def _legacy_origin(ctx: AgentContext, name: str, actor: str) -> str | None:
    """The origin of an account imported before meta.origin existed, or None.

    Read from the newest revision in the history that this op wrote (action `import`,
    same actor), which nothing but this op can produce, never from the current notes,
    which the API may write. None when no such revision is left (pruned after
    history_limit later changes) or it names no origin.
    """
    for info in reversed(ctx.store.history(name)):
        if info.action == IMPORT_ACTION and info.actor == actor:
            try:
                meta = ctx.store.revision_documents(name, info.seq).get("meta", {})
            except NotFound:  # pruned while we looked
                return None
            origin = meta.get("origin") or _origin_in_notes(meta.get("notes"))
            return origin if isinstance(origin, str) else None
    return None


def imported_from(ctx: AgentContext, config: UserConfig, actor: str) -> tuple[str | None, bool]:
    """(origin the account was imported from or None, whether that came from a legacy
    import without the meta.origin field)."""
    if config.meta.origin is not None:
        return config.meta.origin, False
    legacy = _legacy_origin(ctx, config.username, actor)
    return legacy, legacy is not None


def _desired(
    ctx: AgentContext,
    p: ImportUser,
    uid: int,
    gid: int,
    shell: str,
    limits: Limits,
    adopted: bool,
) -> UserConfig:
    config = new_config(
        username=p.username, uid=uid, gid=gid, primary_domain=p.primary_domain,
        contact_email=p.contact_email, package=p.package, limits=limits, owner=p.owner,
        shell=shell, status=p.status, created_at=p.created_at, php_version=p.php_version,
    )  # fmt: skip
    domains = Domains(
        primary=p.primary_domain,
        addon_domains=p.addon_domains,
        subdomains=p.subdomains,
        alias_domains=p.alias_domains,
    )
    services = config.services.model_copy(update={"ftp": Ftp(enabled=p.ftp_enabled)})
    lines = (origin_line(p.origin), ADOPTED_LINE if adopted else "", p.notes)
    notes = "\n".join(part for part in lines if part)
    meta = config.meta.model_copy(update={"notes": notes[:4096], "origin": p.origin})
    return config.with_(domains=domains, services=services, meta=meta)


def _adoptable(ctx: AgentContext, name: str, entry: PasswdEntry) -> None:
    """Refuse to adopt a system account or a Linux user another JoPanel account owns."""
    if entry.uid <= SYSTEM_ID_MAX or entry.gid <= SYSTEM_ID_MAX:
        raise Conflict(
            f"Linux user {name} is a system account (uid {entry.uid}, gid {entry.gid})",
            field="username",
        )
    if entry.home != ctx.settings.system_home(name):
        raise Conflict(
            f"Linux user {name} has home {entry.home}, not {ctx.settings.system_home(name)}",
            field="username",
        )
    for other in ctx.accounts.passwd().values():
        if other.name != name and other.uid == entry.uid and ctx.store.exists(other.name):
            raise Conflict(f"uid {entry.uid} belongs to JoPanel account {other.name}", field="uid")
    for group, gid in ctx.accounts.groups().items():
        if group != name and gid == entry.gid and ctx.store.exists(group):
            raise Conflict(f"gid {entry.gid} belongs to JoPanel account {group}", field="gid")


def _useradd(ctx: AgentContext, config: UserConfig, hashed: str | None) -> None:
    """useradd with its group (-U takes gid = uid, free as both) and the final shell, then
    the password hash (locked when suspended) through chpasswd's stdin, never argv."""
    a = config.account
    locked = a.status == "suspended"
    ctx.accounts.useradd(a.username, a.uid, None, desired_shell(config), create_home=False)
    if hashed:
        ctx.accounts.set_hash(a.username, ("!" if locked else "") + hashed)
    ctx.accounts.make_home(a.username, a.uid, a.gid, ctx.settings.skel_dir)


def _remove_user(ctx: AgentContext, name: str) -> None:
    ctx.accounts.userdel(name)
    ctx.accounts.remove_home(name)


def _needs_password(ctx: AgentContext, name: str) -> bool:
    """True when the Linux user has no usable password (fresh, or cut short by a crash)."""
    current = ctx.accounts.shadow_hash(name)
    return current is None or current.lstrip("!") in ("", "*")


def _converge(ctx: AgentContext, config: UserConfig, *, dry_run: bool, services: bool) -> list[str]:
    return converge(ctx, config, dry_run=dry_run, only=None if services else ACCOUNT_DRIFT)


def _summary(config: UserConfig, action: Action) -> dict[str, Any]:
    return {"action": action, "revision": config.revision, **config.documents()}


def _reimport(call: Call, flow: Flow, p: ImportUser, limits: Limits) -> tuple[Action, UserConfig]:
    ctx = call.ctx
    name = p.username
    seq, documents = ctx.store.read_documents(name)
    existing = UserConfig.from_documents(documents)
    origin, legacy = imported_from(ctx, existing, call.actor)
    if origin != p.origin:
        raise Conflict(f"V2 account {name!r} exists and was not imported from {p.origin}")
    account = existing.account
    adopted = was_adopted(existing)
    desired = _desired(ctx, p, account.uid, account.gid, account.shell, limits, adopted)
    keep = {"updated_at": account.updated_at, "last_login_ip": account.last_login_ip}
    if p.created_at is None:
        keep["created_at"] = account.created_at
    desired = desired.with_(account=desired.account.model_copy(update=keep))
    same = (
        desired.content_revision() == existing.content_revision()
        and desired.meta.notes == existing.meta.notes
        and desired.meta.origin == existing.meta.origin
    )
    if same:
        return "unchanged", existing
    if not written_by_import(existing, call.actor):
        # Changed in V2 since the import: V2 is where the account lives now.
        if legacy:
            return "kept", _record_origin(call, flow, existing, seq, p.origin)
        return "kept", existing
    old_names = existing.domains.served_names()
    added = [d for d in desired.domains.served_names() if d not in old_names]
    removed = [d for d in old_names if d not in desired.domains.served_names()]
    if added:
        claim_domains(flow, call, name, added)
    written: list[UserConfig] = []
    flow.step(
        "write_config",
        lambda: written.append(
            ctx.store.write(
                desired,
                expected_revision=existing.revision,
                actor=call.actor,
                action=IMPORT_ACTION,
            ).config
        ),
        undo=lambda: ctx.store.write(
            existing, expected_revision=None, actor=call.actor, action="undo:import"
        ),
        describe=f"update {ctx.settings.users_dir / name} from {p.origin}",
    )
    if removed:
        flow.step(
            "release_domains",
            lambda: ctx.claims.release(name, removed),
            describe=f"release {', '.join(removed)}",
        )
    return "updated", written[0] if written else desired


def _record_origin(
    call: Call, flow: Flow, existing: UserConfig, seq: int, origin: str
) -> UserConfig:
    """Give a legacy import its meta.origin, changing nothing else (the account is kept)."""
    ctx = call.ctx
    name = existing.username
    recorded = existing.with_(meta=existing.meta.model_copy(update={"origin": origin}))
    written: list[UserConfig] = []
    flow.step(
        "record_origin",
        lambda: written.append(
            ctx.store.write(
                recorded,
                expected_revision=existing.revision,
                actor=call.actor,
                action=RECORD_ORIGIN_ACTION,
            ).config
        ),
        undo=lambda: ctx.store.revert_to(name, seq),
        describe=f"record meta.origin {origin} of {name} (imported before the field existed)",
    )
    return written[0] if written else recorded


def _create(call: Call, flow: Flow, p: ImportUser, limits: Limits) -> tuple[Action, UserConfig]:
    ctx = call.ctx
    name = p.username
    entry = ctx.accounts.get(name)
    if entry is not None:
        if not p.adopt_existing:
            raise Conflict(f"Linux user {name} already exists", field="username")
        _adoptable(ctx, name, entry)
    elif name in ctx.accounts.host_names():
        raise Conflict(f"{name!r} is an existing system account", field="username")
    elif name in ctx.accounts.groups():
        raise Conflict(f"a group {name!r} exists without a user of that name", field="username")
    with nullcontext() if call.dry_run else global_lock(ctx.settings, "uids"):
        if entry is not None:
            uid, gid = entry.uid, entry.gid
            shell = entry.shell if entry.shell in ALLOWED_SHELLS else "/bin/bash"
        else:
            uid = gid = ctx.accounts.allocate_id(reserve=not call.dry_run)
            shell = "/bin/bash"
        config = _desired(ctx, p, uid, gid, shell, limits, entry is not None)
        names = config.domains.served_names()
        claim_domains(flow, call, name, names)
        written: list[UserConfig] = []
        flow.step(
            "write_config",
            lambda: written.append(
                ctx.store.write(
                    config,
                    expected_revision=None,
                    actor=call.actor,
                    action=IMPORT_ACTION,
                    create=True,
                ).config
            ),
            undo=lambda: ctx.store.remove(name),
            describe=f"write {ctx.settings.users_dir / name} from {p.origin}",
        )
        if entry is None:
            flow.step(
                "useradd",
                lambda: _useradd(ctx, config, p.password_hash),
                undo=lambda: _remove_user(ctx, name),
                describe=f"useradd -u {uid} -U {name} (home 0750)",
            )
        else:
            flow.plan.append(f"adopt Linux user {name} (uid {uid}, home {entry.home})")
    return ("adopted" if entry is not None else "created"), (written[0] if written else config)


@op("import_user", ImportUser)
def import_user(call: Call, p: ImportUser) -> OpResult:
    ctx = call.ctx
    name = p.username
    if not call.dry_run:
        ctx.packages.get(p.package)  # an account never names a package that is not there
    if p.limits is not None:
        limits = parse_model(Limits, p.limits, "limits")
    else:
        limits = ctx.packages.get(p.package).limits()
    # A dry run only reads; it takes no lock, so it leaves not even a lock file behind.
    lock = nullcontext() if call.dry_run else ctx.store.lock(name)
    with lock, Flow(call, "import_user") as flow:
        if ctx.store.exists(name):
            action, config = _reimport(call, flow, p, limits)
        else:
            action, config = _create(call, flow, p, limits)
        exists = ctx.accounts.get(name) is not None
        # A fresh user got its hash from useradd; this repairs one cut short by a crash.
        set_password = bool(p.password_hash) and exists and _needs_password(ctx, name)
        if set_password and p.password_hash:
            hashed = p.password_hash
            flow.step(
                "set_password",
                lambda: ctx.accounts.set_hash(name, hashed),
                describe="install the V1 password hash",
            )
        services = p.apply_services
        # useradd just made the account exactly as wanted; only services may be left.
        fresh = action == "created" and not call.dry_run and not services
        drift = (
            _converge(ctx, config, dry_run=True, services=services) if exists and not fresh else []
        )
        if drift or (not exists and not fresh) or set_password:
            flow.step(
                "apply",
                lambda: _converge(ctx, config, dry_run=False, services=services),
                describe="; ".join(drift) or "apply status, shell and home",
            )
    changed = action in ("created", "adopted", "updated") or bool(flow.plan)
    return OpResult(
        changed=changed,
        plan=flow.plan,
        data=_summary(config, action),
        account=AccountSummary.of(config.account, config.revision),
    )
