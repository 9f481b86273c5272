"""`change_account`: the one transaction every op that changes an account goes through.

    lock → read the current revision once → mutate → refuse a stale base →
    plan (claims, the new revision, the system drift, computed once) →
    claim added domains → write → apply the planned drift → release removed domains

On any failure the Flow puts back what was done (the old revision, the old system state,
the claims). In a dry run nothing is written and the result is that same plan, with
`changed` False (nothing changed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import StaleRevision
from ..schemas import UserConfig
from ..schemas.summary import AccountSummary
from .context import Call
from .converge import converge, plan_drift
from .flow import Flow
from .hosting import Hosting
from .registry import OpResult

Mutate = Callable[[UserConfig], UserConfig]


def account_view(config: UserConfig) -> dict[str, Any]:
    """An account's six documents and its revision (what account ops answer with)."""
    return {**config.documents(), "revision": config.revision}


def claim_domains(flow: Flow, call: Call, name: str, names: list[str]) -> None:
    """The flow step that claims `names` for account `name` (released again on failure;
    Conflict when another account holds one)."""
    ctx = call.ctx
    flow.step(
        "claim_domains",
        lambda: ctx.claims.claim(name, names),
        undo=lambda: ctx.claims.release(name, names),
        idempotent_undo=True,
        describe=f"claim {', '.join(names)}",
    )


def change_account(
    call: Call, name: str, action: str, mutate: Mutate, expected: str | None = None
) -> OpResult:
    """Lock, write the new config, apply it; on failure put the old config and system back.

    `action` names the change in the history and the audit; `expected` is the revision
    the caller based its change on (StaleRevision when it is no longer current).
    """
    ctx = call.ctx
    with ctx.store.lock(name), Flow(call, action) as flow:
        old_seq, documents = ctx.store.read_documents(name)
        old = UserConfig.from_documents(documents)
        new = mutate(old)
        if expected is not None and expected != old.revision:
            raise StaleRevision(
                f"revision {expected} is stale; current is {old.revision}", field="revision"
            )
        # served_names: the www aliases are claimed like any name. A www name of an
        # account written before www aliases existed is claimed at its next change, if
        # nobody holds it (one another account took meanwhile stays theirs).
        added = [
            d
            for d in new.domains.served_names()
            if d not in old.domains.served_names()
            or (d in new.domains.www_names() and ctx.claims.owner(d) is None)
        ]
        removed = [d for d in old.domains.served_names() if d not in new.domains.served_names()]
        same = new.content_revision() == old.content_revision() and new.meta.notes == old.meta.notes
        if added:
            claim_domains(flow, call, name, added)
        written: list[UserConfig] = []
        if not same:
            flow.step(
                "write_config",
                lambda: written.append(
                    ctx.store.write(
                        new, expected_revision=old.revision, actor=call.actor, action=action
                    ).config
                ),
                undo=lambda: ctx.store.revert_to(name, old_seq),
                describe=f"write new revision of {name}",
            )
        hosting = Hosting(ctx)
        drift = plan_drift(ctx, new, hosting)
        flow.step(
            "apply",
            lambda: converge(ctx, new, dry_run=False, planned=drift, hosting=hosting),
            undo=lambda: converge(ctx, old, dry_run=False),
            idempotent_undo=True,
            describe="; ".join(d.detail for d in drift) or "apply (nothing to do)",
        )
        if removed:
            flow.step(
                "release_domains",
                lambda: ctx.claims.release(name, removed),
                describe=f"release {', '.join(removed)}",
            )
        current = written[0] if written else old
    if call.dry_run:
        return OpResult(changed=False, plan=flow.plan, data={"steps": flow.steps})
    return OpResult(
        changed=not same or bool(drift),
        plan=flow.plan,
        data=account_view(current),
        account=AccountSummary.of(current.account, current.revision),
    )
