"""Bandwidth per domain per month for one account, from its sites' nginx access logs.

The account's running totals and where each of its logs was read up to live in
ROOT/var/lib/jopanel/bandwidth/<user>.json (root-only); every collection reads only
what the logs gained since (jopanel.system.accesslog), under a lock per account, so two
concurrent readers never count a line twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..atomic import replace_file
from ..schemas import UserConfig
from ..settings import Settings
from ..system.accesslog import Totals, read_log
from ..system.nginx import Nginx, sites_of
from .context import AgentContext

KEEP_MONTHS = 13


def state_dir(settings: Settings) -> Path:
    return settings.path("var/lib/jopanel/bandwidth")


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def collect(ctx: AgentContext, config: UserConfig) -> Totals:
    """Read what the account's access logs gained; returns all its monthly totals."""
    settings = ctx.settings
    directory = state_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    path = directory / f"{config.username}.json"
    lock_fd = os.open(directory / f".{config.username}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        state = _load(path)
        totals: Totals = {
            str(m): {str(h): int(b) for h, b in hosts.items()}
            for m, hosts in (state.get("months") or {}).items()
            if isinstance(hosts, dict)
        }
        logs: dict[str, Any] = state.get("logs") or {}
        log_dir = Nginx(settings, ctx.runner).log_dir
        for site in sites_of(settings, config):
            log = Path(str(site.context(log_dir)["access_log"]))
            logs[log.name] = read_log(log, logs.get(log.name) or {}, totals)
        for month in sorted(totals)[:-KEEP_MONTHS]:
            del totals[month]
        replace_file(path, json.dumps({"logs": logs, "months": totals}).encode(), 0o600)
        return totals
    finally:
        os.close(lock_fd)


def by_domain(config: UserConfig, hosts: dict[str, int]) -> dict[str, int]:
    """Hosts folded onto the account's domains (www.<domain> counts for <domain>)."""
    names = set(config.domains.all_names())
    out: dict[str, int] = {}
    for host, sent in hosts.items():
        bare = host.removeprefix("www.")
        domain = bare if host not in names and bare in names else host
        out[domain] = out.get(domain, 0) + sent
    return dict(sorted(out.items()))


def month_usage(ctx: AgentContext, config: UserConfig, month: str | None = None) -> dict[str, Any]:
    """This month's (or `month`'s) bytes sent, in total and per domain."""
    month = month or this_month()
    hosts = collect(ctx, config).get(month, {})
    domains = by_domain(config, hosts)
    total = sum(domains.values())
    return {
        "month": month,
        "bandwidth_bytes": total,
        "bandwidth_used_mb": round(total / 1048576, 2),
        "bandwidth_by_domain": domains,
    }


def counted_bytes(settings: Settings, username: str, month: str | None = None) -> int:
    """Bytes counted for `month` (default this one) by the last collection; reads only,
    so rendering a vhost never waits for the logs."""
    hosts = (_load(state_dir(settings) / f"{username}.json").get("months") or {}).get(
        month or this_month()
    )
    if not isinstance(hosts, dict):
        return 0
    return sum(int(sent) for sent in hosts.values() if isinstance(sent, int))


def over_quota(config: UserConfig, used_bytes: int) -> bool:
    """Whether `used_bytes` this month is beyond the account's bandwidth_quota_mb (0 = none)."""
    quota = config.limits.bandwidth_quota_mb
    return bool(quota) and used_bytes > quota * 1048576


def blocked(settings: Settings, config: UserConfig) -> bool:
    """Whether the account's sites answer 509: over its quota this month, with a package
    that says `block`. Raising the quota, switching to `warn` or a new month ends it at the
    next render of the vhost (any change, reconcile, or the next collection)."""
    if config.limits.bandwidth_over_action != "block":
        return False
    return over_quota(config, counted_bytes(settings, config.username))
