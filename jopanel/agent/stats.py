"""An account's usage next to its limits (the `user_stats` op): disk from quota or a
cached walk (with its age), bandwidth this month from the access logs, and the counts
the limits cap (from the account's config files)."""

from __future__ import annotations

from typing import Any

from ..schemas import LIMIT_FIELDS, UserConfig
from ..settings import Settings
from .bandwidth import month_usage, state_dir
from .bandwidth_limit import enforce, limit_state_path
from .context import AgentContext
from .limits_check import usage_counts
from .usage import disk_usage, drop_cache

# (limit field, usage key, label, unit) in the order pages and the CLI show them.
METERS = (
    ("disk_quota_mb", "disk_used_mb", "Disk", "MB"),
    ("bandwidth_quota_mb", "bandwidth_used_mb", "Bandwidth this month", "MB"),
    ("max_addon_domains", "addon_domains", "Addon domains", ""),
    ("max_subdomains", "subdomains", "Subdomains", ""),
    ("max_alias_domains", "alias_domains", "Alias domains", ""),
    ("max_databases", "databases", "Databases", ""),
    ("max_db_users", "db_users", "DB users", ""),
    ("max_cron_jobs", "cron_jobs", "Cron jobs", ""),
)
COUNT_KEYS = {
    "max_addon_domains": "addon_domains",
    "max_subdomains": "subdomains",
    "max_alias_domains": "alias_domains",
    "max_databases": "databases",
    "max_db_users": "db_users",
    "max_cron_jobs": "cron_jobs",
}


def account_stats(
    ctx: AgentContext, config: UserConfig, *, refresh: bool = False, actor: str = "agent"
) -> dict[str, Any]:
    disk = disk_usage(ctx, config, max_age=0 if refresh else None)
    bandwidth = month_usage(ctx, config)
    # Each count is also when the quota is applied (a 509 vhost, or a warning).
    over = enforce(ctx, config, bandwidth["month"], bandwidth["bandwidth_bytes"], actor)
    counts = {COUNT_KEYS[field]: used for field, used in usage_counts(config).items()}
    usage: dict[str, float | int] = {
        "disk_used_mb": disk.used_mb,
        "files": disk.files,
        "bandwidth_used_mb": bandwidth["bandwidth_used_mb"],
        **counts,
    }
    limits = {f: getattr(config.limits, f) for f in LIMIT_FIELDS}
    meters = []
    for field, key, label, unit in METERS:
        used, limit = usage[key], limits[field]
        meters.append(
            {
                "name": key,
                "label": label,
                "unit": unit,
                "used": used,
                "limit": limit,  # 0: unlimited
                "percent": round(100 * used / limit, 1) if limit else None,
                "over": bool(limit) and used > limit,
            }
        )
    view = disk.view()
    return {
        "username": config.username,
        "status": config.account.status,
        "limits": limits,
        "usage": usage,
        "meters": meters,
        "disk": {
            "source": view["disk_source"],
            "measured_at": view["disk_measured_at"],
            "age_s": view["disk_age_s"],
            "complete": view["disk_complete"],
        },
        "bandwidth": {
            "month": bandwidth["month"],
            "bytes": bandwidth["bandwidth_bytes"],
            "by_domain": bandwidth["bandwidth_by_domain"],
            **over,
        },
    }


def forget_account(settings: Settings, username: str) -> None:
    """Delete: a later account of the same name starts from nothing measured."""
    drop_cache(settings, username)
    limit_state_path(settings, username).unlink(missing_ok=True)
    for name in (f"{username}.json", f".{username}.lock"):
        (state_dir(settings) / name).unlink(missing_ok=True)
