"""Revision history ops: list, diff, roll back."""

from __future__ import annotations

from dataclasses import asdict

from pydantic import Field

from ...errors import StaleRevision
from ..context import Call
from ..converge import converge
from ..registry import OpResult, Payload, op
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


@op("user_history", HistoryRef)
def user_history(call: Call, p: HistoryRef) -> OpResult:
    return OpResult(changed=False, data=[asdict(i) for i in call.ctx.store.history(p.username)])


@op("user_diff", DiffRef)
def user_diff(call: Call, p: DiffRef) -> OpResult:
    return OpResult(changed=False, data=call.ctx.store.diff(p.username, p.old, p.new))


@op("user_rollback", RollbackRef)
def user_rollback(call: Call, p: RollbackRef) -> OpResult:
    store = call.ctx.store
    with store.lock(p.username):
        current = store.read(p.username)
        if p.expected_revision is not None and p.expected_revision != current.revision:
            raise StaleRevision("the account changed since it was read", field="revision")
        documents = store.revision_documents(p.username, p.seq)
        plan = [f"roll {p.username} back to revision {p.seq}"]
        if call.dry_run:
            return OpResult(changed=True, plan=plan)
        result = store.rollback(
            p.username, p.seq, expected_revision=current.revision, actor=call.actor
        )
        plan += converge(call.ctx, result.config, dry_run=False)
        del documents
    return OpResult(changed=result.changed, plan=plan, data={"revision": result.config.revision})
