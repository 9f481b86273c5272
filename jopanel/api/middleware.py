"""The audit trail: one row for every mutating request, written before its response.

A pure ASGI middleware, so it sees every outcome, including 401/403/422 raised before a
route runs. Routes add what only they know (the login name tried, a created account's
name, a detail) in `request.state`. The row is written before the last body chunk is
sent, so a client that reads the audit log right after a change finds it there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..db.audit import AuditEntry, record
from .context import ApiContext

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def result_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "throttled"
    return "failed"


class AuditMiddleware:
    def __init__(self, app: ASGIApp, context: Callable[[], ApiContext]) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = self.context()
        state: dict[str, Any] = scope.setdefault("state", {})
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        peer = scope.get("client")
        state["client_ip"] = ctx.client_address(
            peer[0] if peer else None, headers.get("x-forwarded-for")
        )
        if scope["method"] not in MUTATING or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        status = 500
        written = False

        async def write(code: int) -> None:
            nonlocal written
            if written:
                return
            written = True
            await anyio.to_thread.run_sync(record, ctx.sessions, self._entry(scope, state, code))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await write(status)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            await write(500)
            raise

    @staticmethod
    def _entry(scope: Scope, state: dict[str, Any], status: int) -> AuditEntry:
        route = scope.get("route")
        action = (
            state.get("audit_action")
            or getattr(route, "name", None)
            or f"{scope['method']} {scope['path']}"
        )
        params = scope.get("path_params") or {}
        target = state.get("audit_target") or params.get("username") or params.get("name")
        detail = str(status)
        if state.get("audit_detail"):
            detail = f"{status} {state['audit_detail']}"
        return AuditEntry(
            actor=str(state.get("audit_actor") or "anonymous"),
            action=str(action),
            target=str(target) if target else None,
            ip=state.get("client_ip"),
            result=result_of(status),
            detail=detail,
        )
