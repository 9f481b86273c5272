"""Domain ops: add, list and remove an account's addon domains, subdomains and aliases.

Every change goes through the account's usual change flow (lock, claim the hostname
server-wide, write the new revision, converge: document root, vhost checked with
`nginx -t`, reload), so a failure anywhere leaves the old revision and the old vhost.
Limits come from the account's limits.json (0 means unlimited) and are checked under the
account's lock, so two concurrent adds cannot both slip under a limit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import idna
from pydantic import Field

from ... import validate
from ...errors import Conflict, JoPanelError, NotFound, ValidationFailed
from ...schemas import AddonDomain, Domains, Subdomain, UserConfig
from ...schemas.base import Domain, Username
from ...schemas.bundle import parse_model
from ..context import AgentContext, Call
from ..registry import OpResult, Payload, op
from .users import _change

DomainKind = Literal["addon", "subdomain", "alias"]
PUBLIC_SUFFIX_LIST = Path("/usr/share/publicsuffix/public_suffix_list.dat")

LIMIT_OF: dict[str, str] = {
    "addon": "max_addon_domains",
    "subdomain": "max_subdomains",
    "alias": "max_alias_domains",
}


class DomainRef(Payload):
    username: Username


class DomainAdd(Payload):
    username: Username
    # A hostname, or for a subdomain also just its label (`blog` with parent example.com).
    domain: str = Field(min_length=1, max_length=253)
    type: DomainKind = "addon"
    parent: Domain | None = None


class DomainRemove(Payload):
    username: Username
    domain: Domain


def describe(config: UserConfig, home: str) -> list[dict[str, Any]]:
    """Every hostname of the account with its kind and document root."""
    d = config.domains
    rows: list[dict[str, Any]] = [
        {"domain": d.primary, "type": "primary", "parent": None, "docroot": "public_html"}
    ]
    rows += [
        {"domain": a.domain, "type": "addon", "parent": None, "docroot": a.docroot}
        for a in d.addon_domains
    ]
    rows += [
        {"domain": s.fqdn, "type": "subdomain", "parent": s.parent, "docroot": s.docroot}
        for s in d.subdomains
    ]
    rows += [
        {"domain": name, "type": "alias", "parent": d.primary, "docroot": "public_html"}
        for name in d.alias_domains
    ]
    for row in rows:
        row["document_root"] = f"{home}/{row['docroot']}"
    return rows


def _count(config: UserConfig, kind: str) -> int:
    d = config.domains
    return {
        "addon": len(d.addon_domains),
        "subdomain": len(d.subdomains),
        "alias": len(d.alias_domains),
    }[kind]


def _check_limit(config: UserConfig, kind: str) -> None:
    field = LIMIT_OF[kind]
    limit = getattr(config.limits, field)
    used = _count(config, kind)
    if limit and used >= limit:
        raise Conflict(
            f"limit reached: {used} of {limit} {kind} domains in use ({field})", field=field
        )


def _split_subdomain(config: UserConfig, text: str, parent: str | None) -> tuple[str, str]:
    """(label, parent) of a subdomain given as a full name or as a label plus parent."""
    parents = [config.domains.primary, *(a.domain for a in config.domains.addon_domains)]
    if parent is not None:
        if parent not in parents:
            raise ValidationFailed(
                f"{parent} is not the primary or an addon domain of this account", field="parent"
            )
        lowered = text.lower()
        fqdn = validate.domain(lowered if lowered.endswith(f".{parent}") else f"{text}.{parent}")
    else:
        fqdn = validate.domain(text)
        under = [p for p in parents if fqdn.endswith(f".{p}")]
        if not under:
            raise ValidationFailed(
                f"{fqdn} is not under any domain of this account; give its parent", field="domain"
            )
        parent = max(under, key=len)
    if not fqdn.endswith(f".{parent}"):
        raise ValidationFailed(f"{fqdn} is not under {parent}", field="domain")
    label = validate.subdomain_label(fqdn[: -len(parent) - 1], "domain")
    return label, parent


@lru_cache(maxsize=1)
def _public_suffixes() -> frozenset[str]:
    """Rules of the Public Suffix List (Debian's `publicsuffix` package), if installed."""
    try:
        text = PUBLIC_SUFFIX_LIST.read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    rules = set()
    for line in text.splitlines():
        rule = line.strip().split(" ")[0]
        if not rule or rule.startswith("//"):
            continue
        prefix = "!" if rule.startswith("!") else "*." if rule.startswith("*.") else ""
        name = rule[len(prefix) :]
        if not name.isascii():
            try:
                name = idna.encode(name, uts46=True).decode("ascii")
            except idna.IDNAError:
                continue
        rules.add(prefix + name)
    return frozenset(rules)


def is_public_suffix(name: str) -> bool:
    """`co.uk`, `github.io`: names under which anyone registers, so no account may hold one."""
    rules = _public_suffixes()
    parent = name.partition(".")[2]
    return name in rules or (f"*.{parent}" in rules and f"!{name}" not in rules)


def _held_by_other(ctx: AgentContext, username: str, name: str) -> bool:
    """Another account claims `name` and still lists it (a claim left by a crash does not
    count: the claim step takes it over, as DomainClaims.claim does)."""
    owner = ctx.claims.owner(name)
    if owner is None or owner == username:
        return False
    try:
        return name in ctx.store.read(owner).domains.all_names()
    except JoPanelError:
        return False


def _check_not_under_others(ctx: AgentContext, username: str, fqdn: str) -> None:
    """Refuse `shop.example.com` when another account owns `example.com`."""
    labels = fqdn.split(".")
    for start in range(1, len(labels) - 1):
        suffix = ".".join(labels[start:])
        if _held_by_other(ctx, username, suffix):
            raise Conflict(f"{fqdn} is under {suffix}, which belongs to another account")


def add_domain(ctx: AgentContext, config: UserConfig, p: DomainAdd) -> tuple[UserConfig, str]:
    """The config with the domain added (limits and ownership checked); and its name."""
    d = config.domains
    if p.type == "subdomain":
        label, parent = _split_subdomain(config, p.domain, p.parent)
        fqdn = f"{label}.{parent}"
        entry = Subdomain(
            subdomain=label, parent=parent, docroot=f"domains/{parent}/subdomains/{label}"
        )
        domains = d.model_copy(update={"subdomains": [*d.subdomains, entry]})
    else:
        if p.parent is not None:
            raise ValidationFailed(
                f"only a subdomain has a parent, not an {p.type}", field="parent"
            )
        fqdn = validate.domain(p.domain)
        if p.type == "addon":
            addon = AddonDomain(domain=fqdn, docroot=f"domains/{fqdn}/public_html")
            domains = d.model_copy(update={"addon_domains": [*d.addon_domains, addon]})
        else:
            domains = d.model_copy(update={"alias_domains": [*d.alias_domains, fqdn]})
    if fqdn in d.all_names():
        raise Conflict(f"{fqdn} is already a domain of this account", field="domain")
    if is_public_suffix(fqdn):
        # Holding one would also block everyone else's names under it (see below).
        raise ValidationFailed(f"{fqdn} is a public suffix, not a domain", field="domain")
    _check_limit(config, p.type)
    if _held_by_other(ctx, config.username, fqdn):
        raise Conflict(f"{fqdn} already belongs to another account", field="domain")
    _check_not_under_others(ctx, config.username, fqdn)
    # Re-validate the whole document (uniqueness, parents) exactly as it will be stored.
    checked = parse_model(Domains, domains.model_dump(), "domains")
    return config.with_(domains=checked), fqdn


def remove_domain(config: UserConfig, name: str) -> UserConfig:
    d = config.domains
    if name == d.primary:
        raise Conflict(
            "the primary domain cannot be removed; change it with 'user update --primary-domain'",
            field="domain",
        )
    if name not in d.all_names():
        raise NotFound(f"{name} is not a domain of this account", field="domain")
    children = [s.fqdn for s in d.subdomains if s.parent == name]
    if children:
        raise Conflict(f"{name} has subdomains ({', '.join(children)}); remove them first")
    domains = d.model_copy(
        update={
            "addon_domains": [a for a in d.addon_domains if a.domain != name],
            "subdomains": [s for s in d.subdomains if s.fqdn != name],
            "alias_domains": [a for a in d.alias_domains if a != name],
        }
    )
    return config.with_(domains=domains)


@op("domain_list", DomainRef)
def domain_list(call: Call, p: DomainRef) -> OpResult:
    config = call.ctx.store.read(p.username)
    return OpResult(changed=False, data=describe(config, config.account.home_dir))


@op("domain_add", DomainAdd)
def domain_add(call: Call, p: DomainAdd) -> OpResult:
    added: list[str] = []

    def mutate(config: UserConfig) -> UserConfig:
        new, fqdn = add_domain(call.ctx, config, p)
        added.append(fqdn)
        return new

    result = _change(call, p.username, "domain_add", mutate)
    if not call.dry_run:
        config = call.ctx.store.read(p.username)
        row = next(r for r in describe(config, config.account.home_dir) if r["domain"] == added[0])
        result.data = {**row, "revision": config.revision}
    return result


@op("domain_remove", DomainRemove)
def domain_remove(call: Call, p: DomainRemove) -> OpResult:
    result = _change(call, p.username, "domain_remove", lambda c: remove_domain(c, p.domain))
    if not call.dry_run:
        # The document root's files are the account's: they stay in its home.
        result.data = {"domain": p.domain, "revision": call.ctx.store.read(p.username).revision}
    return result
