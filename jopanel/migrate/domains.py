"""V1 `domains` rows -> domains.json: server-wide unique, typed, with relative docroots.

Pure; the rules are in README.md ("Migrating from V1").
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .. import validate
from ..errors import ValidationFailed
from ..schemas.hosting import PHP_VERSION_RE
from .introspect import V1Data, V1Domain, V1User
from .normalise import DEFAULT_PHP, normalise_domain

PHP_RE = re.compile(PHP_VERSION_RE)
DOMAIN_TYPES = ("primary", "addon", "subdomain", "alias")
# (V1 domain id, V1 domain name, reason) of a row that is not migrated.
DomainSkip = tuple[int, str, str]


@dataclass
class AccountDomains:
    primary: str | None = None
    addons: list[dict[str, str]] = field(default_factory=list)
    subdomains: list[dict[str, str]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    php: str | None = None
    notes: list[str] = field(default_factory=list)


def docroot(raw: str | None, homes: list[str], default: str) -> tuple[str, str]:
    """A V1 absolute document root inside the home becomes relative; anything else, default."""
    value = (raw or "").strip().rstrip("/")
    for home in homes:
        if value.startswith(home + "/"):
            try:
                return validate.relative_path(value[len(home) + 1 :], "docroot"), ""
            except ValidationFailed:
                break
    return default, f"document root {raw!r} is not inside the home: {default}"


def claim_domains(
    data: V1Data, names: dict[int, str]
) -> tuple[dict[int, list[tuple[V1Domain, str]]], list[DomainSkip]]:
    """Valid, server-wide unique hostnames per V1 user id (the lowest domain id wins),
    and the rows that are not migrated with the reason."""
    skipped: list[DomainSkip] = []
    users = {u.id: u for u in data.users}
    owner_of: dict[str, V1Domain] = {}
    result: dict[int, list[tuple[V1Domain, str]]] = defaultdict(list)
    for row in sorted(data.domains, key=lambda d: d.id):
        label = row.domain_name or ""
        if row.user_id not in users:
            skipped.append((row.id, label, f"belongs to no V1 user (user_id {row.user_id})"))
            continue
        if row.user_id not in names:
            reason = f"its V1 user #{row.user_id} is not migrated (see that row)"
            skipped.append((row.id, label, reason))
            continue
        hostname, reason = normalise_domain(row.domain_name)
        if hostname is None:
            skipped.append((row.id, label, reason))
            continue
        first = owner_of.get(hostname)
        if first is not None:
            owner = names.get(first.user_id, "?")
            reason = f"duplicate of V1 domain #{first.id} {first.domain_name!r} ({owner})"
            skipped.append((row.id, label, reason))
            continue
        owner_of[hostname] = row
        result[row.user_id].append((row, hostname))
    return result, skipped


def account_domains(
    user: V1User,
    name: str,
    rows: list[tuple[V1Domain, str]],
    taken: set[str],
    suffix: str,
    had_rows: bool,
) -> AccountDomains:
    out = AccountDomains()
    homes = [f"/home/{user.username}", f"/home/{name}"]
    kind_of = {}
    for row, hostname in rows:
        kind = (row.type or "").strip().lower()
        if kind not in DOMAIN_TYPES:
            out.notes.append(f"{hostname}: unknown V1 type {row.type!r}: addon domain")
            kind = "addon"
        kind_of[row.id] = kind
    primaries = [(r, h) for r, h in rows if kind_of[r.id] == "primary"]
    if primaries:
        row, out.primary = primaries[0]
        root, _ = docroot(row.document_root, homes, "public_html")
        if root != "public_html":
            out.notes.append(
                f"{out.primary}: V1 document root {row.document_root!r}; V2 serves the primary "
                "domain from public_html"
            )
        if row.php_version is not None:
            out.php = row.php_version.strip()
        for extra, hostname in primaries[1:]:
            out.notes.append(f"{hostname}: a second V1 primary domain: addon domain")
            kind_of[extra.id] = "addon"
    else:
        out.primary = placeholder(name, user.id, taken, suffix)
        reason = "no usable primary domain in V1" if had_rows else "no domain in V1"
        out.notes.append(f"{reason}: primary domain set to {out.primary}")
    parents = [out.primary]
    for row, hostname in rows:
        if kind_of[row.id] == "addon":
            path, note = docroot(row.document_root, homes, f"domains/{hostname}/public_html")
            out.addons.append({"domain": hostname, "docroot": path})
            parents.append(hostname)
            if note:
                out.notes.append(f"{hostname}: {note}")
    for row, hostname in rows:
        kind = kind_of[row.id]
        if kind == "subdomain":
            parent = max((p for p in parents if hostname.endswith("." + p)), key=len, default=None)
            if parent is None:
                path, note = docroot(row.document_root, homes, f"domains/{hostname}/public_html")
                out.addons.append({"domain": hostname, "docroot": path})
                out.notes.append(
                    f"{hostname}: subdomain of no domain of this account: addon domain"
                )
                continue
            label = hostname[: -len(parent) - 1]
            default = f"domains/{parent}/subdomains/{label}"
            path, note = docroot(row.document_root, homes, default)
            out.subdomains.append({"subdomain": label, "parent": parent, "docroot": path})
            if note:
                out.notes.append(f"{hostname}: {note}")
        elif kind == "alias":
            out.aliases.append(hostname)
    versions = sorted({(r.php_version or "").strip() for r, _ in rows if r.php_version})
    if out.php is None and versions:
        out.php = versions[0]
    if out.php is not None and not PHP_RE.fullmatch(out.php):
        out.notes.append(f"V1 PHP version {out.php!r} is not valid: PHP {DEFAULT_PHP}")
        out.php = None
    if len(versions) > 1:
        out.notes.append(f"V1 used PHP {', '.join(versions)}; V2 runs one version per account")
    ssl = [h for r, h in rows if r.is_ssl_active]
    if ssl:
        out.notes.append(f"SSL was active in V1 on {', '.join(ssl)}: issue certificates in V2")
    return out


def placeholder(name: str, v1_id: int, taken: set[str], suffix: str) -> str:
    for candidate in (f"{name}.{suffix}", f"{name}-{v1_id}.{suffix}"):
        hostname, _ = normalise_domain(candidate)
        if hostname is not None and hostname not in taken:
            taken.add(hostname)
            return hostname
    raise ValidationFailed(f"cannot build a placeholder domain under {suffix!r}", field="suffix")
