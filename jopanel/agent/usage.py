"""An account's disk usage as JoPanel knows it: from the kernel's quota where the home's
filesystem has user quotas, otherwise from a walk of the home cached per account
(ROOT/var/cache/jopanel/usage/<user>.json, root-only) with the time it was measured."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..atomic import replace_file
from ..schemas import UserConfig
from ..settings import Settings
from ..system import diskwalk, quota
from ..system.runner import Runner
from .context import AgentContext

# A cached walk younger than this is answered without walking again.
WALK_MAX_AGE_S = 900.0
# A walk stops after this long and reports what it counted as partial.
WALK_BUDGET_S = 20.0


@dataclass(frozen=True)
class DiskUsage:
    used_bytes: int
    files: int
    source: str  # "quota" or "walk"
    measured_at: float  # unix time
    complete: bool = True  # False when the walk ran out of time

    @property
    def used_mb(self) -> float:
        return round(self.used_bytes / 1048576, 2)

    def view(self, now: float | None = None) -> dict[str, Any]:
        age = max(0.0, (now or time.time()) - self.measured_at)
        return {
            "disk_used_mb": self.used_mb,
            "files": self.files,
            "disk_source": self.source,
            "disk_measured_at": round(self.measured_at, 3),
            "disk_age_s": round(age, 1),
            "disk_complete": self.complete,
        }


def cache_dir(settings: Settings) -> Path:
    return settings.path("var/cache/jopanel/usage")


def cache_path(settings: Settings, username: str) -> Path:
    return cache_dir(settings) / f"{username}.json"


def read_cache(settings: Settings, username: str) -> DiskUsage | None:
    try:
        raw = json.loads(cache_path(settings, username).read_text())
        return DiskUsage(
            used_bytes=int(raw["used_bytes"]),
            files=int(raw["files"]),
            source=str(raw["source"]),
            measured_at=float(raw["measured_at"]),
            complete=bool(raw.get("complete", True)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(settings: Settings, username: str, usage: DiskUsage) -> None:
    directory = cache_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)  # root-only: sizes tell about other accounts' files
    replace_file(cache_path(settings, username), json.dumps(asdict(usage)).encode(), 0o600)


def drop_cache(settings: Settings, username: str) -> None:
    cache_path(settings, username).unlink(missing_ok=True)


def quota_usage(runner: Runner, settings: Settings, config: UserConfig) -> DiskUsage | None:
    """The kernel's figure for the account's uid, when its home's filesystem has quotas."""
    home = settings.home_of(config.username)
    mount = quota.mount_of(home)
    if mount is None or not quota.has_user_quota(runner, mount):
        return None
    used = quota.user_usage(runner, config.account.uid, mount.mountpoint)
    if used is None:
        return None
    return DiskUsage(used.bytes, used.files, "quota", time.time())


def disk_usage(ctx: AgentContext, config: UserConfig, *, max_age: float | None = None) -> DiskUsage:
    """Quota when available; else the cached walk if younger than `max_age` (default
    WALK_MAX_AGE_S), else a new walk (written to the cache)."""
    max_age = WALK_MAX_AGE_S if max_age is None else max_age
    settings = ctx.settings
    from_quota = quota_usage(ctx.runner, settings, config)
    if from_quota is not None:
        return from_quota
    cached = read_cache(settings, config.username)
    if cached is not None and time.time() - cached.measured_at <= max_age:
        return cached
    result = diskwalk.walk(settings.home_of(config.username), budget_s=WALK_BUDGET_S)
    usage = DiskUsage(result.bytes, result.files, "walk", time.time(), result.complete)
    write_cache(settings, config.username, usage)
    return usage


def known_disk_mb(ctx: AgentContext, config: UserConfig) -> float | None:
    """Disk used in MB when known without walking (quota, or any cached walk); None
    otherwise: a limit change never waits for a walk of a large home."""
    from_quota = quota_usage(ctx.runner, ctx.settings, config)
    if from_quota is not None:
        return from_quota.used_mb
    cached = read_cache(ctx.settings, config.username)
    return cached.used_mb if cached is not None else None
