"""`/api/admin`: audit log, system load, services status, reindex; and `/api/health`."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import text

from ...agent.server import socket_in_use
from ...db import audit
from ...db.session import session_scope
from ...errors import JoPanelError
from ...hostinfo import host_load
from ..deps import Admin, Ctx
from ..schemas import (
    AuditOut,
    AuditPage,
    HealthOut,
    LoadOut,
    ReindexOut,
    ServiceOut,
    ServicesOut,
    error_responses,
)

router = APIRouter(tags=["admin: system"])


@router.get(
    "/api/admin/audit-logs",
    name="audit.list",
    summary="The audit log, newest first",
    responses=error_responses(401, 403, 422),
)
def audit_logs(
    principal: Admin,
    ctx: Ctx,
    actor: Annotated[str | None, Query(max_length=128, description="part of the actor")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="e.g. users.create, auth.login")
    ] = None,
    target: Annotated[str | None, Query(max_length=255)] = None,
    result: Annotated[
        str | None, Query(max_length=32, description="ok, denied, throttled, failed")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Panel requests and logins, and every change the agent made from any path (CLI,
    reconcile, migration), copied from its journal first."""
    ctx.accounts.sync_audit()
    with session_scope(ctx.sessions) as db:
        rows, total = audit.search(
            db, actor=actor, action=action, target=target, result=result,
            since=since, until=until, page=page, per_page=per_page,
        )  # fmt: skip
        items = [AuditOut.model_validate(r) for r in rows]
    return AuditPage(items=items, total=total, page=page, per_page=per_page)


@router.get(
    "/api/admin/system/load",
    name="system.load",
    summary="Load, CPUs, memory, uptime",
    responses=error_responses(401, 403),
)
def system_load(principal: Admin) -> LoadOut:
    return LoadOut(**host_load().row())


def agent_alive(socket_path: Path) -> bool:
    """Whether something accepts connections on the agent's socket."""
    return socket_in_use(socket_path)


@router.get(
    "/api/admin/services/status",
    name="system.services",
    summary="Whether the agent and the hosting services run",
    responses=error_responses(401, 403, 503),
)
def services_status(principal: Admin, ctx: Ctx) -> ServicesOut:
    """The agent reads the pid files under ROOT (nginx, sshd, each installed PHP-FPM
    version, MariaDB) and reports itself; with the agent down this is a 503."""
    rows = ctx.agent.execute("service_status", {}, actor=principal.actor).data
    return ServicesOut(items=[_service_out(row) for row in rows])


def _service_out(row: dict[str, Any]) -> ServiceOut:
    return ServiceOut(
        name=row["name"],
        status="running" if row["running"] else "stopped",
        detail=row.get("detail", ""),  # "pid 812", "stale pid file ... (pid 812)", ...
    )


@router.post(
    "/api/admin/reindex",
    name="system.reindex",
    summary="Rebuild the account index from disk",
    responses=error_responses(401, 403, 503),
)
def reindex(principal: Admin, ctx: Ctx) -> ReindexOut:
    started = time.perf_counter()
    count = ctx.accounts.reindex(principal.actor)
    return ReindexOut(indexed=count, duration_ms=round((time.perf_counter() - started) * 1000, 1))


@router.get(
    "/api/health",
    name="health",
    summary="Liveness of the API, its agent and database",
    tags=["health"],
)
def health(ctx: Ctx) -> HealthOut:
    agent_ok = agent_alive(ctx.settings.socket_path)
    try:
        with session_scope(ctx.sessions) as db:
            db.execute(text("SELECT 1"))
        database_ok = True
    except (JoPanelError, OSError, Exception):  # noqa: BLE001 - health reports, never raises
        database_ok = False
    return HealthOut(
        status="ok" if agent_ok and database_ok else "degraded",
        agent="ok" if agent_ok else "down",
        database="ok" if database_ok else "down",
    )
