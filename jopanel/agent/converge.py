"""Compare an account's config with the system and bring the system in line.

`plan_drift` only reads; each Drift carries the fix. Used by every op that changes an
account (apply after write) and by reconcile, so both always agree on what "in line" is.
"""

from __future__ import annotations

from ..errors import Conflict
from ..schemas import NOLOGIN_SHELL, UserConfig
from ..system.accounts import HOME_MODE
from .cert_drift import plan_certs
from .context import AgentContext
from .cron_state import plan_cron
from .databases import plan_databases
from .drift import Drift
from .hosting import Hosting
from .quota_drift import plan_quota


def desired_shell(config: UserConfig) -> str:
    return NOLOGIN_SHELL if config.account.status == "suspended" else config.account.shell


def plan_drift(
    ctx: AgentContext, config: UserConfig, hosting: Hosting | None = None
) -> list[Drift]:
    accounts = ctx.accounts
    account = config.account
    name = account.username
    drift: list[Drift] = []
    entry = accounts.get(name)
    if entry is None:
        owner = {e.uid: e.name for e in accounts.passwd().values()}.get(account.uid)
        if owner is not None:
            raise Conflict(f"uid {account.uid} of {name} is taken by {owner}", field="uid")

        def recreate() -> None:
            if name not in accounts.groups():
                accounts.groupadd(name, account.gid)
            accounts.useradd(
                name, account.uid, account.gid, desired_shell(config), create_home=False
            )

        drift.append(Drift("missing_user", f"Linux user {name} is missing", recreate))
        shell_now, locked_now = desired_shell(config), True
    else:
        if (entry.uid, entry.gid) != (account.uid, account.gid):
            drift.append(
                Drift(
                    "uid_mismatch",
                    f"uid/gid {entry.uid}/{entry.gid}, config says {account.uid}/{account.gid}",
                    lambda: accounts.set_ids(name, account.uid, account.gid),
                )
            )
        shell_now, locked_now = entry.shell, accounts.is_locked(name)
    want_shell = desired_shell(config)
    if shell_now != want_shell:
        drift.append(
            Drift(
                "shell",
                f"shell {shell_now}, want {want_shell}",
                lambda: accounts.set_shell(name, want_shell),
            )
        )
    want_locked = account.status == "suspended"
    if entry is not None and locked_now != want_locked:
        hashed = accounts.shadow_hash(name) or ""
        if want_locked:
            drift.append(Drift("lock", "password is not locked", lambda: accounts.lock(name)))
        elif hashed.lstrip("!") not in ("", "*"):
            # An account without any password stays locked: unlocking would open it.
            drift.append(Drift("lock", "password is locked", lambda: accounts.unlock(name)))
    home = accounts.home_state(name)
    if not home.exists:
        drift.append(
            Drift(
                "home_missing",
                f"home {ctx.settings.system_home(name)} is missing",
                lambda: accounts.make_home(name, account.uid, account.gid, ctx.settings.skel_dir),
            )
        )
    elif (home.uid, home.gid, home.mode) != (account.uid, account.gid, HOME_MODE):
        drift.append(
            Drift(
                "home_owner",
                f"home is {home.uid}:{home.gid} {home.mode:o}, want "
                f"{account.uid}:{account.gid} {HOME_MODE:o}",
                lambda: accounts.fix_home(name, account.uid, account.gid),
            )
        )
    # Web, PHP and SSH state last: the fixes above create the user and home they need.
    drift += (hosting or Hosting(ctx)).plan_changes(config)
    drift += plan_cron(ctx, config)
    drift += plan_databases(ctx, config)
    drift += plan_quota(ctx, config)
    drift += plan_certs(ctx, config)
    return drift


def converge(
    ctx: AgentContext,
    config: UserConfig,
    *,
    dry_run: bool,
    only: frozenset[str] | None = None,
    planned: list[Drift] | None = None,
    hosting: Hosting | None = None,
) -> list[str]:
    """Apply every fix (recomputing after a user is recreated); returns what differed.

    `only` limits the repair to those drift kinds (an import installs services in batches);
    `planned` is the drift the caller already computed for its plan (not computed again).
    """
    applied: list[str] = []
    for _ in range(3):
        if planned is None:
            planned = plan_drift(ctx, config, hosting)
        drift = [d for d in planned if only is None or d.kind in only]
        planned = None
        if not drift:
            break
        if dry_run:
            return [d.detail for d in drift]
        for item in drift:
            item.fix()
            applied.append(item.detail)
    return applied
