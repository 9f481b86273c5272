"""Applying `bandwidth_quota_mb`: what an account over it gets, decided after each count.

The vhost is rendered from the counts themselves (`bandwidth.blocked`): an account over
its quota whose package says `block` gets the 509 page, so every render (a change,
reconcile) already agrees with the last count. What this module adds runs after each
collection (the stats page, the API, the CLI, `bandwidth_check` from a timer):

- a change of state (over / back under, a new month, another action) is journaled once
  (`bandwidth_over`, `bandwidth_restored`), so it shows in the audit log;
- when the live vhost does not match it yet (the count just crossed the quota, or a new
  month began), the vhost alone is checked with `nginx -t` and swapped in, and nginx is
  marked for a reload: marks are coalesced, so a collection over every account costs one.

The last state seen lives beside the counts, in var/lib/jopanel/bandwidth/<user>.limit.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..atomic import replace_file
from ..schemas import UserConfig
from ..settings import Settings
from ..system.staging import file_name
from . import journal
from .bandwidth import over_quota, state_dir
from .context import AgentContext
from .hosting import Hosting

# The vhost template writes this line in every server block that answers 509.
BLOCK_MARK = "# Over its monthly bandwidth"


def limit_state_path(settings: Settings, username: str) -> Path:
    return state_dir(settings) / f"{username}.limit.json"


def evaluate(config: UserConfig, used_bytes: int) -> dict[str, Any]:
    """What the account gets this month for `used_bytes` sent."""
    limits = config.limits
    over = over_quota(config, used_bytes)
    action = limits.bandwidth_over_action
    warning = None
    if over:
        used_mb = round(used_bytes / 1048576, 2)
        then = (
            "its sites answer 509 Bandwidth Limit Exceeded"
            if action == "block"
            else ("its sites are still served")
        )
        warning = (
            f"bandwidth this month {used_mb:g} MB is over the quota of "
            f"{limits.bandwidth_quota_mb} MB: {then}"
        )
    return {"over": over, "action": action, "blocked": over and action == "block",
            "warning": warning}  # fmt: skip


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def enforce(
    ctx: AgentContext, config: UserConfig, month: str, used_bytes: int, actor: str
) -> dict[str, Any]:
    """Log a change of the account's bandwidth state and bring its vhost in line."""
    state = evaluate(config, used_bytes)
    path = limit_state_path(ctx.settings, config.username)
    seen = {"month": month, "over": state["over"], "action": state["action"]}
    previous = _read(path)
    if previous != seen:
        was_over = bool(previous.get("over")) and previous.get("month") == month
        if state["over"] or was_over:
            journal.append(
                ctx.settings,
                journal.entry(
                    actor=actor,
                    action="bandwidth_over" if state["over"] else "bandwidth_restored",
                    target=config.username,
                    result="ok",
                    detail=state["warning"] or f"bandwidth in {month} is within the quota again",
                ),
            )
        replace_file(path, json.dumps(seen).encode(), 0o600)
    _sync_vhost(ctx, config.username, state["blocked"])
    return state


def _sync_vhost(ctx: AgentContext, username: str, blocked: bool) -> None:
    """Install the account's vhost when the live one does not show `blocked` yet."""
    hosting = Hosting(ctx)
    name = file_name(username)
    live = hosting.nginx.read_live(name)
    if live is None or (BLOCK_MARK in live) == blocked:
        return  # no vhost (a change is making it) or already right
    with ctx.store.lock(username):
        config = ctx.store.read(username)  # the current revision, under its lock
        want = hosting.wanted(config)
        if not hosting.nginx.is_current(want.name, want.vhost):
            hosting.install(hosting.nginx, {want.name: want.vhost})
