"""Seed §3 step 4: every migrated account is checked against its V1 rows, field by field.

The config is read back from disk (not from what we meant to write), the Linux user from
ROOT/etc/passwd and shadow, the login from the panel database. Everything V2 is asked of
the agent through read-only ops (get_config, domain_owners, account_system_state); the
Linux password hash never leaves the agent, only whether it is V1's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..agent.client import Agent
from ..agent.ops.adopt import was_adopted
from ..errors import JoPanelError
from ..schemas import LIMIT_FIELDS, UserConfig
from .mapping import AccountPlan, AdminPlan
from .panel import PanelDB, login_problems


def _same_time(config_value: datetime, wanted: str | None) -> bool:
    return wanted is None or config_value == datetime.fromisoformat(wanted)


def verify_account(agent: Agent, panel: PanelDB, plan: AccountPlan, *, actor: str) -> list[str]:
    """What differs between V2 and the V1 rows; empty when the account migrated faithfully.

    `agent` answers the read-only ops, asked as `actor`.
    """
    p: dict[str, Any] = plan.payload

    def read(op: str, **payload: Any) -> Any:
        return agent.execute(op, payload, actor=actor).data

    try:
        config = UserConfig.from_documents(read("get_config", username=plan.username))
    except JoPanelError as exc:
        return [f"config unreadable: {exc}"]
    a = config.account
    problems: list[str] = []
    expected = {
        "username": (a.username, p["username"]),
        "primary_domain": (a.primary_domain, p["primary_domain"]),
        "contact_email": (a.contact_email, p["contact_email"]),
        "status": (a.status, p["status"]),
        "package": (a.package, p["package"]),
        "owner": (a.owner, p["owner"]),
        "php_version": (config.services.php.version, p["php_version"]),
        "ftp": (config.services.ftp.enabled, p["ftp_enabled"]),
    }
    for name, (got, want) in expected.items():
        if got != want:
            problems.append(f"{name}: V2 {got!r}, V1 {want!r}")
    if not _same_time(a.created_at, p["created_at"]):
        problems.append(f"created_at: V2 {a.created_at.isoformat()}, V1 {p['created_at']}")
    for field in LIMIT_FIELDS:
        got, want = getattr(config.limits, field), p["limits"][field]
        if got != want:
            problems.append(f"limits.{field}: V2 {got}, V1 {want}")
    d = config.domains
    addons = sorted((x.domain, x.docroot) for x in d.addon_domains)
    if addons != sorted((x["domain"], x["docroot"]) for x in p["addon_domains"]):
        problems.append("addon domains differ")
    subs = sorted((x.subdomain, x.parent, x.docroot) for x in d.subdomains)
    if subs != sorted((x["subdomain"], x["parent"], x["docroot"]) for x in p["subdomains"]):
        problems.append("subdomains differ")
    if sorted(d.alias_domains) != sorted(p["alias_domains"]):
        problems.append("alias domains differ")
    hostnames = d.all_names()
    owners = read("domain_owners", domains=hostnames) if hostnames else {}
    for hostname in hostnames:
        if owners.get(hostname) != plan.username:
            problems.append(f"domain {hostname} is not claimed by {plan.username}")
    expected_hash = plan.login.password_hash if plan.login is not None else None
    state = read("account_system_state", username=plan.username, expected_hash=expected_hash)
    user = state["user"]
    if user is None:
        problems.append("Linux user missing")
    elif (user["uid"], user["gid"]) != (a.uid, a.gid):
        problems.append(f"Linux uid/gid {user['uid']}/{user['gid']}, config {a.uid}/{a.gid}")
    if not state["home_exists"]:
        problems.append("home directory missing")
    if p["status"] == "suspended" and not state["locked"]:
        problems.append("suspended in V1 but the Linux password is not locked")
    if plan.login is not None and not was_adopted(config):
        # A V1 hash is bcrypt; one that is not was set in V2 since (the first panel login
        # rehashes it to yescrypt, `jopanel user passwd` replaces it): that is V2's to keep.
        if not state["hash_matches"] and state["hash_is_bcrypt"]:
            problems.append("Linux password hash is not V1's")
    if plan.login is not None:
        name = plan.username
        problems += login_problems(panel.login(name), plan.login, panel.imported(name))
    return problems


def verify_admin(panel: PanelDB, plan: AdminPlan) -> list[str]:
    name = plan.login.username
    return login_problems(panel.login(name), plan.login, panel.imported(name))
