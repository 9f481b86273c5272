"""The account's disk quota as Drift: where its home's filesystem enforces user quotas,
the kernel's block limit for its uid must equal limits.disk_quota_mb (0: no limit).

Planned from `plan_drift`, so create, update, a package edit and reconcile all set it;
on a filesystem without quotas there is nothing to converge (usage is then measured by a
walk, jopanel.agent.usage)."""

from __future__ import annotations

from ..schemas import UserConfig
from ..system import quota
from .context import AgentContext
from .drift import Drift


def plan_quota(ctx: AgentContext, config: UserConfig) -> list[Drift]:
    mount = quota.mount_of(ctx.settings.home_of(config.username))
    if mount is None or not quota.has_user_quota(ctx.runner, mount):
        return []
    uid, limit_mb = config.account.uid, config.limits.disk_quota_mb
    want_kb = limit_mb * 1024
    now = quota.user_usage(ctx.runner, uid, mount.mountpoint)
    if now is not None and (now.soft_kb, now.hard_kb) == (want_kb, want_kb):
        return []
    shown = f"{now.hard_kb} KiB" if now is not None else "unknown"
    return [
        Drift(
            "disk_quota",
            f"disk quota of uid {uid} on {mount.mountpoint} is {shown}, want {want_kb} KiB",
            lambda: quota.set_user_limit(ctx.runner, uid, limit_mb, mount.mountpoint),
        )
    ]
