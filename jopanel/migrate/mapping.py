"""V1 rows -> what V2 creates. Pure: no I/O, the same rows always give the same plan.

Every V1 row ends up in exactly one place: a package, a panel admin, a hosting account
(with its domains), or `Plan.skipped` with the reason. Normalisations are recorded as
notes on the account (and in its meta.notes), so nothing changes silently. The rules
are the table in README.md ("Migrating from V1"); keep both in step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import validate
from ..schemas import LIMIT_FIELDS, Limits
from .domains import account_domains, claim_domains
from .introspect import V1Data, V1Domain, V1Package, V1User
from .normalise import (
    BCRYPT_RE,
    aware,
    email,
    limit_value,
    normalise_username,
    package_slug,
    php,
    status,
)

DEFAULT_PACKAGE = "default"
HOSTING_ROLES = {"user": "user", "reseller": "reseller"}
ADMIN_ROLES = {"admin", "superadmin", "root"}
# V1 package column -> V2 limits.json field(s). V1 counted 0 as unlimited, as V2 does.
PACKAGE_LIMITS: dict[str, tuple[str, ...]] = {
    "disk_quota_mb": ("disk_quota_mb",),
    "bandwidth_mb": ("bandwidth_quota_mb",),
    "max_domains": ("max_addon_domains",),
    "max_databases": ("max_databases", "max_db_users"),
    "max_ftp": ("max_ftp_accounts",),
}
PACKAGE_MARKER = "Migrated from JoPanel V1 package #"
MAX_NOTES = 3400


def package_marker(v1_id: int) -> str:
    return f"{PACKAGE_MARKER}{v1_id} "


def origin(v1_id: int) -> str:
    return f"v1:users.id={v1_id}"


@dataclass(frozen=True)
class Options:
    default_domain_suffix: str
    default_limits: dict[str, int]
    # Existing V2 packages: name -> description (to tell our own from the admin's).
    existing_packages: dict[str, str] = field(default_factory=dict)
    # PHP versions with an FPM on this server; empty means "do not second-guess V1".
    php_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    kind: str  # account | admin | package | domain
    v1_id: int
    v1_name: str
    reason: str


@dataclass
class PackagePlan:
    v1: V1Package
    name: str
    values: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def limits(self) -> dict[str, int]:
        return {f: int(self.values[f]) for f in LIMIT_FIELDS}


@dataclass
class LoginPlan:
    """A row of the panel's `users` table: the V1 bcrypt hash copied as it is."""

    username: str
    password_hash: str
    role: str
    created_at: datetime | None


@dataclass
class AdminPlan:
    v1: V1User
    login: LoginPlan
    notes: list[str] = field(default_factory=list)


@dataclass
class AccountPlan:
    v1: V1User
    username: str
    payload: dict[str, Any]  # for the agent op import_user
    login: LoginPlan | None
    notes: list[str] = field(default_factory=list)
    v1_domains: list[V1Domain] = field(default_factory=list)


@dataclass
class Plan:
    packages: list[PackagePlan] = field(default_factory=list)
    admins: list[AdminPlan] = field(default_factory=list)
    accounts: list[AccountPlan] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


# --- packages ----------------------------------------------------------------------------


def plan_packages(data: V1Data, options: Options, plan: Plan) -> dict[int, PackagePlan]:
    live_package_ids = {
        u.package_id for u in data.users if u.deleted_at is None and u.package_id is not None
    }
    defaults = Limits().model_dump()
    used: set[str] = set()
    by_id: dict[int, PackagePlan] = {}
    for package in data.packages:
        label = package.name or f"#{package.id}"
        if package.deleted_at is not None and package.id not in live_package_ids:
            plan.skipped.append(
                Skip("package", package.id, label, "soft-deleted in V1 and used by no account")
            )
            continue
        slug = package_slug(package.name, package.id)
        marker = package_marker(package.id)

        def free(candidate: str, marker: str = marker) -> bool:
            existing = options.existing_packages.get(candidate)
            return candidate not in used and (existing is None or existing.startswith(marker))

        name = slug
        if not free(name):
            suffix = f"-{package.id}"
            name = slug[: 32 - len(suffix)] + suffix
            if not free(name):
                plan.skipped.append(
                    Skip(
                        "package",
                        package.id,
                        label,
                        f"V2 package names {slug!r} and {name!r} are taken",
                    )
                )
                continue
        used.add(name)
        notes = [] if name == package.name else [f"V1 package {label!r} is V2 package {name!r}"]
        values: dict[str, Any] = {}
        for v1_field, v2_fields in PACKAGE_LIMITS.items():
            for v2_field in v2_fields:
                value, problem = limit_value(getattr(package, v1_field), defaults[v2_field])
                values[v2_field] = value
                if problem == "negative":
                    notes.append(f"{v1_field} was negative: unlimited (0)")
        for v2_field in LIMIT_FIELDS:
            values.setdefault(v2_field, defaults[v2_field])
        description = f"{marker}{package.name!r}"
        if package.max_emails is not None:
            description += f"; V1 max_emails={package.max_emails} (V2 has no mail limits)"
        if package.deleted_at is not None:
            description += "; soft-deleted in V1 but still used"
            notes.append("soft-deleted in V1 but used by live accounts: migrated")
        values["description"] = description[:500]
        by_id[package.id] = PackagePlan(package, name, values, notes)
        plan.packages.append(by_id[package.id])
    return by_id


# --- users -------------------------------------------------------------------------------


def _role(user: V1User) -> str | None:
    role = (user.role or "").strip().lower()
    if role in ADMIN_ROLES:
        return "admin"
    return HOSTING_ROLES.get(role)


def _names(data: V1Data, plan: Plan) -> dict[int, str]:
    """V1 id -> V2 name for live users, resolving duplicates; reports the rest."""
    candidates: dict[str, list[tuple[V1User, str]]] = defaultdict(list)
    for user in data.users:
        label = user.username
        if user.deleted_at is not None:
            kind = "admin" if _role(user) == "admin" else "account"
            plan.skipped.append(
                Skip(kind, user.id, label, f"soft-deleted in V1 at {aware(user.deleted_at)}")
            )
            continue
        role = _role(user)
        if role is None:
            plan.skipped.append(Skip("account", user.id, label, f"unknown V1 role {user.role!r}"))
            continue
        name, note = normalise_username(user.username, panel=role == "admin")
        if name is None:
            plan.skipped.append(
                Skip("admin" if role == "admin" else "account", user.id, label, note)
            )
            continue
        candidates[name].append((user, note))
    names: dict[int, str] = {}
    for name, group in candidates.items():
        # The row already spelt the V2 way wins; among equals, the oldest (lowest id).
        group.sort(key=lambda item: (item[0].username != name, item[0].id))
        winner = group[0][0]
        names[winner.id] = name
        for loser, _note in group[1:]:
            kind = "admin" if _role(loser) == "admin" else "account"
            plan.skipped.append(
                Skip(kind, loser.id, loser.username,
                     f"duplicate: V1 user #{winner.id} {winner.username!r} is also {name!r} in V2")
            )  # fmt: skip
    return names


def _login(user: V1User, name: str, role: str) -> tuple[LoginPlan | None, str]:
    hashed = (user.password_hash or "").strip()
    if not BCRYPT_RE.fullmatch(hashed):
        return None, "V1 password hash is not bcrypt: no password set (use 'jopanel user passwd')"
    return LoginPlan(name, hashed, role, aware(user.created_at)), ""


# --- the plan ------------------------------------------------------------------------------


def build_plan(data: V1Data, options: Options) -> Plan:
    """Decide what every V1 row becomes."""
    plan = Plan()
    validate.domain(f"example.{options.default_domain_suffix}", "default_domain_suffix")
    shape = data.shape
    if not shape.has("users", "package_id"):
        plan.notices.append(
            "V1 has no users.package_id: every account gets the V2 'default' package"
        )
    if not shape.has("domains"):
        plan.notices.append(
            "V1 has no domains table: primary domains are "
            f"<username>.{options.default_domain_suffix}"
        )
    packages = plan_packages(data, options, plan)
    names = _names(data, plan)
    users = {u.id: u for u in data.users}
    domains, domain_skips = claim_domains(data, names)
    plan.skipped += [Skip("domain", i, label, reason) for i, label, reason in domain_skips]
    taken = {h for rows in domains.values() for _r, h in rows}
    with_rows = {d.user_id for d in data.domains}
    ftp: dict[int, list[str]] = defaultdict(list)
    for account in data.ftp_accounts:
        ftp[account.user_id].append(account.username or f"#{account.id}")
    databases: dict[int, list[str]] = defaultdict(list)
    for database in data.databases:
        databases[database.user_id].append(database.db_name or f"#{database.id}")
    owner_column = shape.owner_column
    for user in sorted(data.users, key=lambda u: u.id):
        name = names.get(user.id)
        if name is None:
            continue
        role = _role(user)
        rename_note = (
            [] if user.username == name else [f"username {user.username!r} became {name!r}"]
        )
        if role == "admin":
            login, problem = _login(user, name, "admin")
            if login is None:
                plan.skipped.append(Skip("admin", user.id, user.username, problem))
            else:
                plan.admins.append(AdminPlan(user, login, rename_note))
            continue
        assert role is not None
        notes = list(rename_note)
        rows = domains.get(user.id, [])
        had_rows = user.id in with_rows
        found = account_domains(user, name, rows, taken, options.default_domain_suffix, had_rows)
        assert found.primary is not None
        notes += found.notes
        php_version, note = php(found.php, options.php_versions)
        notes += [note] if note else []
        package_name = DEFAULT_PACKAGE
        limits = dict(options.default_limits)
        if shape.has("users", "package_id"):
            if user.package_id is None:
                notes.append("no package in V1: V2 package 'default'")
            elif user.package_id not in packages:
                notes.append(f"V1 package #{user.package_id} does not exist: V2 package 'default'")
            else:
                package_name = packages[user.package_id].name
                limits = packages[user.package_id].limits()
        account_status, note = status(user.status)
        notes += [note] if note else []
        contact_email, note = email(user.email, name, found.primary)
        notes += [note] if note else []
        owner = "admin"
        if owner_column and user.owner_id is not None:
            parent = users.get(user.owner_id)
            if parent is not None and _role(parent) == "reseller" and parent.id in names:
                owner = names[parent.id]
            else:
                notes.append(f"V1 {owner_column} {user.owner_id} is no live reseller: owner admin")
        created = aware(user.created_at) or aware(user.updated_at)
        if user.created_at is None:
            notes.append("no created_at in V1" + (": updated_at used" if created else ""))
        login, problem = _login(user, name, role)
        notes += [problem] if problem else []
        if role == "reseller":
            notes.append("reseller: also a panel login with the reseller role")
        if ftp.get(user.id):
            notes.append(f"V1 FTP accounts: {', '.join(ftp[user.id])} (FTP enabled)")
        if databases.get(user.id):
            notes.append(
                f"V1 databases (left in MariaDB as they are): {', '.join(databases[user.id])}"
            )
        payload: dict[str, Any] = {
            "username": name,
            "origin": origin(user.id),
            "password_hash": login.password_hash if login else None,
            "contact_email": contact_email,
            "primary_domain": found.primary,
            "package": package_name,
            "limits": limits,
            "owner": owner,
            "status": account_status,
            "created_at": created.isoformat() if created else None,
            "addon_domains": found.addons,
            "subdomains": found.subdomains,
            "alias_domains": found.aliases,
            "php_version": php_version,
            "ftp_enabled": bool(ftp.get(user.id)),
            "notes": "\n".join(notes)[:MAX_NOTES],
        }
        plan.accounts.append(AccountPlan(user, name, payload, login, notes, []))
    return plan
