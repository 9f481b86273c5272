"""The whitelist of agent operations: a name, a payload model, a handler.

Nothing outside this registry can be executed; there is no op that runs a command the
caller chooses. Each handler returns an `OpResult`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import JoPanelError, NotFound, ValidationFailed
from ..logs import REQUEST_ID
from ..schemas.bundle import parse_model
from ..schemas.summary import AccountSummary
from . import journal
from .context import AgentContext, Call

log = logging.getLogger("jopanel.agent.ops")

P = TypeVar("P", bound=BaseModel)


class Payload(BaseModel):
    """Base of every op payload: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class OpResult(BaseModel):
    """What every op answers: whether it changed something, its plan, its data, and for
    ops that change an account, that account's summary afterwards (the index row)."""

    changed: bool
    dry_run: bool = False
    plan: list[str] = Field(default_factory=list)
    data: Any = None
    account: AccountSummary | None = None


Handler = Callable[[Call, Any], OpResult]


@dataclass(frozen=True)
class OpSpec:
    name: str
    payload: type[BaseModel]
    handler: Handler
    target_field: str | None
    # Ops that change something are journaled (jopanel.agent.journal); readers are not.
    journal: bool = True
    # The model every answer's `data` satisfies (checked before it leaves the agent).
    returns: type[BaseModel] | None = None


REGISTRY: dict[str, OpSpec] = {}


def op(
    name: str,
    payload: type[P],
    target: str | None = "username",
    *,
    reads_only: bool = False,
    returns: type[BaseModel] | None = None,
) -> Callable[[Callable[[Call, P], OpResult]], Callable[[Call, P], OpResult]]:
    """Register `handler` as the op `name` taking `payload` and answering `returns`
    (`reads_only`: not journaled)."""

    def register(handler: Callable[[Call, P], OpResult]) -> Callable[[Call, P], OpResult]:
        if name in REGISTRY:
            raise RuntimeError(f"op {name} registered twice")
        REGISTRY[name] = OpSpec(
            name, payload, handler, target, journal=not reads_only, returns=returns
        )
        return handler

    return register


def _journal(
    ctx: AgentContext,
    spec: OpSpec | None,
    actor: str,
    target: Any,
    dry_run: bool,
    outcome: str,
    detail: str,
    request_id: str | None,
) -> None:
    """Record a change (or a refused one) in the audit journal; readers and dry runs not."""
    if spec is None or not spec.journal or dry_run:
        return
    journal.append(
        ctx.settings,
        journal.entry(
            actor=actor,
            action=spec.name,
            target=str(target) if target is not None else None,
            result=outcome,
            detail=detail,
            request_id=request_id,
        ),
    )


def execute(
    ctx: AgentContext,
    name: str,
    payload: Any,
    *,
    actor: str = "root",
    dry_run: bool = False,
    request_id: str | None = None,
) -> OpResult:
    """Validate and run one op; logs one structured line whatever happens.

    `request_id` names the API request that asked (journal and log lines carry it)."""
    from . import ops  # noqa: F401 - importing registers every op

    started = time.monotonic()
    # Log lines written while the op runs name the API request too (jopanel.logs).
    request_token = REQUEST_ID.set(request_id) if request_id is not None else None
    target = None
    outcome = "ok"
    result: OpResult | None = None
    spec: OpSpec | None = None
    try:
        spec = REGISTRY.get(name) if isinstance(name, str) else None
        if spec is None:
            raise NotFound(f"unknown operation {str(name)[:64]!r}", field="op")
        if not isinstance(payload, dict):
            raise ValidationFailed("must be a JSON object", field="payload")
        model = parse_model(spec.payload, payload, "")
        target = getattr(model, spec.target_field, None) if spec.target_field else None
        result = spec.handler(Call(ctx, actor=actor, dry_run=dry_run), model)
        result.dry_run = dry_run
        if dry_run:  # nothing changed; `plan` says what would
            result.changed = False
        elif spec.returns is not None:
            spec.returns.model_validate(result.data)  # the op keeps its declared contract
    except JoPanelError as exc:
        outcome = exc.code
        _journal(ctx, spec, actor, target, dry_run, outcome, str(exc), request_id)
        raise
    except Exception:
        outcome = "internal"
        _journal(ctx, spec, actor, target, dry_run, outcome, "internal error", request_id)
        raise
    else:
        if result.changed:
            _journal(ctx, spec, actor, target, dry_run, outcome, "; ".join(result.plan), request_id)
        return result
    finally:
        log.info(
            json.dumps(
                {
                    "op": str(name)[:64],
                    "request_id": request_id,
                    "actor": actor,
                    "target": target,
                    "dry_run": dry_run,
                    "duration_ms": round((time.monotonic() - started) * 1000, 2),
                    "result": outcome,
                    "changed": result.changed if result else False,
                }
            )
        )
        if request_token is not None:
            REQUEST_ID.reset(request_token)
