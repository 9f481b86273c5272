"""Domain ops: add, list and remove an account's addon domains, subdomains and aliases.

Every change goes through the account's usual change flow (lock, claim the hostname
server-wide, write the new revision, converge: document root, vhost checked with
`nginx -t`, reload), so a failure anywhere leaves the old revision and the old vhost.
Limits come from the account's limits.json (0 means unlimited) and are checked under the
account's lock, so two concurrent adds cannot both slip under a limit.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ... import validate
from ...errors import Conflict, NotFound, ValidationFailed
from ...schemas import AddonDomain, Domains, Subdomain, UserConfig
from ...schemas.base import Domain, Username
from ...schemas.bundle import parse_model
from ..context import AgentContext, Call
from ..domain_rules import check_hostname_available, held_by_other, is_public_suffix
from ..registry import OpResult, Payload, op
from ..transaction import change_account

DomainKind = Literal["addon", "subdomain", "alias"]

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


class DomainWww(Payload):
    username: Username
    domain: Domain
    www: bool


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
        row["www"] = d.www_of(row["domain"])
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
    if fqdn in d.www_names():
        raise Conflict(
            f"{fqdn} is already served as the www alias of {fqdn[4:]}; turn that off first",
            field="domain",
        )
    _check_limit(config, p.type)
    check_hostname_available(ctx, config.username, fqdn, "domain")
    # Re-validate the whole document (uniqueness, parents) exactly as it will be stored.
    checked = parse_model(Domains, domains.model_dump(), "domains")
    for www in checked.www_names():  # a new addon brings its www alias, claimed too
        if www not in d.www_names():
            check_hostname_available(ctx, config.username, www, "domain")
    return config.with_(domains=checked), fqdn


def remove_domain(config: UserConfig, name: str) -> UserConfig:
    d = config.domains
    if name == d.primary:
        raise Conflict(
            "the primary domain cannot be removed; change it with 'user update --primary-domain'",
            field="domain",
        )
    if name in d.www_names():
        raise Conflict(
            f"{name} is the www alias of {name[4:]}; turn it off (www off) instead",
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
            "www_off": [w for w in d.www_off if w != name],
            "tls": {k: v for k, v in d.tls.items() if k != name},  # its files: cert_drift
        }
    )
    return config.with_(domains=domains)


def set_www(ctx: AgentContext, config: UserConfig, domain: str, on: bool) -> UserConfig:
    """Turn the `www.` alias of a primary or addon domain on or off."""
    d = config.domains
    if domain not in [d.primary, *(a.domain for a in d.addon_domains)]:
        if domain in d.all_names():
            raise ValidationFailed(
                f"{domain} is not a primary or addon domain: only those have a www alias",
                field="domain",
            )
        raise NotFound(f"{domain} is not a domain of this account", field="domain")
    off = [w for w in d.www_off if w != domain] + ([] if on else [domain])
    new = d.model_copy(update={"www_off": off})
    www = f"www.{domain}"
    if on and new.www_of(domain) is None:
        if www in d.all_names():
            raise Conflict(f"{www} is already a domain of this account", field="domain")
        if domain.startswith("www.") or len(www) > 253:
            raise ValidationFailed(f"{domain} cannot have a www alias", field="domain")
    if on and www not in d.www_names():
        check_hostname_available(ctx, config.username, www, "domain")
    return config.with_(domains=new)


@op("domain_list", DomainRef, reads_only=True)
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

    result = change_account(call, p.username, "domain_add", mutate)
    if not call.dry_run:
        config = call.ctx.store.read(p.username)
        row = next(r for r in describe(config, config.account.home_dir) if r["domain"] == added[0])
        result.data = {**row, "revision": config.revision}
    return result


@op("domain_remove", DomainRemove)
def domain_remove(call: Call, p: DomainRemove) -> OpResult:
    result = change_account(call, p.username, "domain_remove", lambda c: remove_domain(c, p.domain))
    if not call.dry_run:
        # The document root's files are the account's: they stay in its home.
        result.data = {"domain": p.domain, "revision": call.ctx.store.read(p.username).revision}
    return result


@op("domain_www_set", DomainWww)
def domain_www_set(call: Call, p: DomainWww) -> OpResult:
    result = change_account(
        call, p.username, "domain_www_set", lambda c: set_www(call.ctx, c, p.domain, p.www)
    )
    if not call.dry_run:
        config = call.ctx.store.read(p.username)
        row = next(r for r in describe(config, config.account.home_dir) if r["domain"] == p.domain)
        result.data = {**row, "revision": config.revision}
    return result


# --- the provider's own domains (a server-wide setting) ----------------------------------
class ReservedSet(Payload):
    domains: list[Domain] = Field(default_factory=list, max_length=1000)


class Nothing(Payload):
    pass


def _holders(call: Call, reserved: list[str]) -> list[str]:
    """`name (account)` for every live claim that is one of `reserved` or below one."""
    claims = call.ctx.claims
    held = []
    for name in reserved:
        found = [(name, claims.owner(name)), *claims.claimed_below(name)]
        held += [f"{n} ({owner})" for n, owner in found if owner and held_by_other(call.ctx, "", n)]
    return held


@op("reserved_domains_list", Nothing, target=None, reads_only=True)
def reserved_domains_list(call: Call, p: Nothing) -> OpResult:
    return OpResult(changed=False, data={"domains": call.ctx.claims.reserved.names()})


@op("reserved_domains_set", ReservedSet, target=None)
def reserved_domains_set(call: Call, p: ReservedSet) -> OpResult:
    """Replace the list. A name an account already holds (or one below it) is refused:
    the account would keep serving it while nobody else could ever claim it."""
    reserved = call.ctx.claims.reserved
    wanted, current = sorted(set(p.domains)), reserved.names()
    added = [n for n in wanted if n not in current]
    for name in added:
        if is_public_suffix(name):
            raise ValidationFailed(f"{name} is a public suffix, not a domain", field="domains")
    held = _holders(call, added)
    if held:
        raise Conflict(
            f"held by accounts: {', '.join(held)}; remove them there first", field="domains"
        )
    plan = [f"reserve {n}" for n in added]
    plan += [f"release reservation of {n}" for n in current if n not in wanted]
    if plan and not call.dry_run:
        reserved.save(wanted)
    return OpResult(changed=bool(plan) and not call.dry_run, plan=plan, data={"domains": wanted})
