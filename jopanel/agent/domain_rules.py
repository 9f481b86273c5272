"""Who may hold a hostname: shared by account creation, primary-domain changes and domain ops."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import idna

from ..errors import Conflict, JoPanelError, ValidationFailed
from .context import AgentContext

PUBLIC_SUFFIX_LIST = Path("/usr/share/publicsuffix/public_suffix_list.dat")


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


def held_by_other(ctx: AgentContext, username: str, name: str) -> bool:
    """Another account claims `name` and still lists it (a claim left by a crash does not
    count: the claim step takes it over, as DomainClaims.claim does)."""
    owner = ctx.claims.owner(name)
    if owner is None or owner == username:
        return False
    try:
        return name in ctx.store.read(owner).domains.served_names()
    except JoPanelError:
        return False


def _check_not_under_others(ctx: AgentContext, username: str, fqdn: str, field: str) -> None:
    """Refuse `shop.example.com` when another account owns `example.com`."""
    labels = fqdn.split(".")
    for start in range(1, len(labels) - 1):
        suffix = ".".join(labels[start:])
        if held_by_other(ctx, username, suffix):
            raise Conflict(
                f"{fqdn} is under {suffix}, which belongs to another account", field=field
            )


def _check_not_above_others(ctx: AgentContext, username: str, fqdn: str, field: str) -> None:
    """Refuse `example.com` when another account owns `bert.example.com`: holding the
    parent would block every later name under it and serve it from the wrong account."""
    for name, _owner in ctx.claims.claimed_below(fqdn):
        if held_by_other(ctx, username, name):
            raise Conflict(f"{fqdn} is above {name}, which belongs to another account", field=field)


def check_hostname_available(ctx: AgentContext, username: str, fqdn: str, field: str) -> None:
    """Refuse a public suffix, a name the provider reserved (or one below it), another
    account's name, or a name under or above another account's domain."""
    if is_public_suffix(fqdn):
        # Holding one would also block everyone else's names under it.
        raise ValidationFailed(f"{fqdn} is a public suffix, not a domain", field=field)
    reserved = ctx.claims.reserved.covering(fqdn)
    if reserved is not None:
        raise Conflict(f"{fqdn} is reserved by the hosting provider ({reserved})", field=field)
    if held_by_other(ctx, username, fqdn):
        raise Conflict(f"{fqdn} already belongs to another account", field=field)
    _check_not_under_others(ctx, username, fqdn, field)
    _check_not_above_others(ctx, username, fqdn, field)
