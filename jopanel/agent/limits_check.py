"""The one check that a limit is not set below what an account already uses.

Every path that changes limits goes through `check_limits`: a limit change on an account
(API PUT, CLI), a package change for an account, and an edit of a package (for each of
its accounts). 0 means unlimited and never conflicts. Only limits that change are
checked: an account already over a limit that is left alone is not refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import Conflict
from ..schemas import Limits, UserConfig


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def _first_list(obj: Any, *paths: str) -> int:
    """The length of the first list found along `paths` ("a.b"), 0 when none is there.

    Database and cron fields are added to services.json by other parts of the schema;
    reading them this way works before and after they exist."""
    for path in paths:
        value: Any = obj
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                break
        if isinstance(value, list | tuple):
            return len(value)
    return 0


def count_databases(config: UserConfig) -> int:
    s = config.services
    return _first_list(s, "databases.databases", "mysql.databases", "databases")


def count_db_users(config: UserConfig) -> int:
    s = config.services
    return _first_list(s, "databases.users", "mysql.users", "db_users")


def count_cron_jobs(config: UserConfig) -> int:
    return _length(getattr(getattr(config.services, "cron", None), "jobs", []))


# limit field -> how many of that thing the account has (from its config files).
COUNTERS: dict[str, Callable[[UserConfig], int]] = {
    "max_addon_domains": lambda c: len(c.domains.addon_domains),
    "max_subdomains": lambda c: len(c.domains.subdomains),
    "max_alias_domains": lambda c: len(c.domains.alias_domains),
    "max_cron_jobs": count_cron_jobs,
    "max_databases": count_databases,
    "max_db_users": count_db_users,
}


def usage_counts(config: UserConfig) -> dict[str, int]:
    """What the account uses, keyed by the limit that caps it."""
    return {field: count(config) for field, count in COUNTERS.items()}


def violations(
    usage: Mapping[str, int | float | None],
    old: Limits | None,
    new: Limits,
    fields: Iterable[str] | None = None,
) -> list[str]:
    """`field: N in use, new limit M` for each changed limit set below its usage.

    `usage` may carry `disk_quota_mb` (MB used) when it is known; None means unknown."""
    problems = []
    for field in fields if fields is not None else usage:
        used = usage.get(field)
        limit = getattr(new, field)
        if used is None or limit == 0:
            continue
        if old is not None and getattr(old, field) == limit:
            continue
        if used > limit:
            shown = f"{used:g}" if isinstance(used, float) else str(used)
            problems.append(f"{field}: {shown} in use, new limit {limit}")
    return problems


def check_limits(
    config: UserConfig,
    new: Limits,
    *,
    force: bool,
    disk_used_mb: float | None = None,
    who: str | None = None,
) -> list[str]:
    """Refuse (409) new limits below the account's usage unless `force`; returns the
    problems found (so a forced change can report what it overrode)."""
    usage: dict[str, int | float | None] = {**usage_counts(config), "disk_quota_mb": disk_used_mb}
    problems = violations(usage, config.limits, new)
    if problems and not force:
        prefix = f"{who}: " if who else ""
        raise Conflict(
            prefix + "; ".join(problems) + " (use force to apply anyway)", field="limits"
        )
    return problems
