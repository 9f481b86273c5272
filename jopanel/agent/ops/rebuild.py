"""`rebuild`: regenerate the web, PHP and SSH files of one account or of all of them.

Accounts are processed in batches under their locks (taken in name order, so two
rebuilds cannot deadlock); each batch costs one `nginx -t`, one `php-fpm -t` per PHP
version and one `sshd -t`, not one per account. A full rebuild also removes the files of
accounts that no longer exist.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict

from pydantic import Field

from ...errors import JoPanelError, ValidationFailed
from ...schemas import UserConfig
from ...schemas.base import Username
from ..context import Call
from ..hosting import Hosting, RebuildReport, prune_orphans
from ..registry import OpResult, Payload, op

BATCH = 250


class RebuildRef(Payload):
    """One account, several (the V1 migration installs services batch by batch), or all."""

    username: Username | None = None
    usernames: list[Username] | None = Field(None, max_length=10_000)


@op("rebuild", RebuildRef)
def rebuild(call: Call, p: RebuildRef) -> OpResult:
    ctx = call.ctx
    if p.username is not None and p.usernames is not None:
        raise ValidationFailed("give username or usernames, not both", field="usernames")
    whole = p.username is None and p.usernames is None
    names = (
        ctx.store.list_usernames()
        if whole
        else sorted(set(p.usernames or [p.username or ""]))  # locks are taken in name order
    )
    hosting = Hosting(ctx)
    total = RebuildReport()
    with hosting.reloader.held():  # one reload per service for the whole rebuild
        _rebuild_batches(call, hosting, names, total)
    if whole:
        total.changes += prune_orphans(ctx, dry_run=call.dry_run)
    return OpResult(changed=bool(total.changes), plan=total.changes, data=asdict(total))


def _rebuild_batches(call: Call, hosting: Hosting, names: list[str], total: RebuildReport) -> None:
    ctx = call.ctx
    for start in range(0, len(names), BATCH):
        batch = names[start : start + BATCH]
        with ExitStack() as locks:
            configs: list[UserConfig] = []
            for name in batch:
                locks.enter_context(ctx.store.lock(name))
                try:
                    configs.append(ctx.store.read(name))
                except JoPanelError as exc:  # reported; the other accounts still get rebuilt
                    total.failed[name] = str(exc)
            report = hosting.rebuild(configs, dry_run=call.dry_run)
        total.accounts += report.accounts
        total.changes += report.changes
        total.failed.update(report.failed)
        for key, count in report.checks.items():
            total.checks[key] = total.checks.get(key, 0) + count
