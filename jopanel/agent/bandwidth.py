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
