"""Revision history ops: list, diff, roll back."""

from __future__ import annotations

from dataclasses import asdict

from pydantic import Field

from ...errors import StaleRevision
from ...schemas import UserConfig
from ..context import Call
from ..domain_rules import check_hostname_available
from ..registry import OpResult, Payload, op
from ..transaction import change_account
from .users import Username


class HistoryRef(Payload):
    username: Username


class DiffRef(Payload):
    username: Username
    old: int = Field(ge=1)
    new: int = Field(ge=1)


class RollbackRef(Payload):
    username: Username
    seq: int = Field(ge=1)
    expected_revision: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")


@op("user_history", HistoryRef, reads_only=True)
def user_history(call: Call, p: HistoryRef) -> OpResult:
    return OpResult(changed=False, data=[asdict(i) for i in call.ctx.store.history(p.username)])


@op("user_diff", DiffRef, reads_only=True)
def user_diff(call: Call, p: DiffRef) -> OpResult:
    return OpResult(changed=False, data=call.ctx.store.diff(p.username, p.old, p.new))


@op("user_rollback", RollbackRef)
def user_rollback(call: Call, p: RollbackRef) -> OpResult:
    """Write revision `seq`'s documents as a new revision, through the usual change flow.

    `change_account` claims the domains the old revision has and the current one lacks (a
    Conflict if another account holds one: one hostname, one vhost), writes, converges
    with undo and releases the domains the old revision lacks. The history stays linear:
    the rollback is a new revision (action `rollback:<seq>`, the caller as actor).
    """
    ctx = call.ctx

    def mutate(current: UserConfig) -> UserConfig:
        if p.expected_revision is not None and p.expected_revision != current.revision:
            raise StaleRevision("the account changed since it was read", field="revision")
        restored = UserConfig.from_documents(ctx.store.revision_documents(p.username, p.seq))
        for hostname in restored.domains.served_names():
            if hostname not in current.domains.served_names():
                # The rules every other way of adding a hostname goes through (another
                # account's name, a name under another account's domain, a public suffix).
                check_hostname_available(ctx, p.username, hostname, "domains")
        # Where the account came from is not part of its history: only the import sets it.
        meta = restored.meta.model_copy(update={"origin": current.meta.origin})
        return restored.with_(meta=meta)

    return change_account(call, p.username, f"rollback:{p.seq}", mutate, p.expected_revision)
