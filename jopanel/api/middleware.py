"""The audit trail: one row for every mutating request, written before its response.

A pure ASGI middleware, so it sees every outcome, including 401/403/422 raised before a
route runs. Routes add what only they know (the login name tried, a created account's
name, a detail) in `request.state`. The row is written before the last body chunk is
sent, so a client that reads the audit log right after a change finds it there.

Also `BodyLimitMiddleware`: request bodies over a size limit are refused with 413 as they
stream in, never buffered whole.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..agent.client import REQUEST_ID
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
        # TLS ended at a trusted proxy in front (the web UI's cookies are then Secure).
        state["forwarded_tls"] = bool(
            peer
            and ctx.client_address.is_trusted(peer[0])
            and headers.get("x-forwarded-proto", "").lower() == "https"
        )
        # One id per request: the audit row carries it, and so does every agent op (and
        # its journal line) the request causes, so the table keeps one row per change.
        state["request_id"] = secrets.token_hex(16)
        token = REQUEST_ID.set(state["request_id"])
        try:
            await self._audited(ctx, scope, state, receive, send)
        finally:
            REQUEST_ID.reset(token)

    async def _audited(
        self,
        ctx: ApiContext,
        scope: Scope,
        state: dict[str, Any],
        receive: Receive,
        send: Send,
    ) -> None:
        if scope["method"] not in MUTATING or scope["path"].startswith("/static/"):
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
            event_id=state.get("request_id"),
            actor=str(state.get("audit_actor") or "anonymous"),
            action=str(action),
            target=str(target) if target else None,
            ip=state.get("client_ip"),
            # A page that shows a refusal in a form answers 200: it says so itself.
            result=str(state.get("audit_result") or result_of(status)),
            detail=detail,
        )


# --- request body limit ------------------------------------------------------------------
UPLOAD_PREFIX = "/api/user/files/upload"
# Also file bodies: the editor's save (raw text) and the panel's upload form.
UPLOAD_PATHS = (
    UPLOAD_PREFIX,
    "/api/user/files/content",
    "/panel/files/upload",
    "/panel/files/save",
)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit (the 413 is already out).

    An HTTPException, so FastAPI's body parsing re-raises it as is rather than calling it
    a malformed body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies over a size limit with 413, never buffering them.

    A Content-Length over the limit is answered at once, before the app runs or a byte of
    the body is read. A body without one (chunked) is counted as the app receives it: the
    chunk that passes the limit is not handed over; the 413 is sent right then and
    `receive` raises `BodyTooLarge`, so the app stops, and whatever it answers to that is
    dropped. At most about one chunk beyond the limit is ever in memory. Paths under
    `/api/user/files/upload` get `upload_limit` instead of `limit`. The 413 is JSON
    `{"detail", "code": "too_large", "field": null}` with `Connection: close` (the rest
    of the body is not worth reading).
    """

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    def limit_for(self, path: str) -> int:
        if any(path == p or path.startswith(p + "/") for p in UPLOAD_PATHS):
            return self.upload_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if not refused:
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                if received <= limit:
                    return message
                if not started:
                    await _refuse(send, limit)
                    refused = True
            raise BodyTooLarge(limit)

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's own answer to BodyTooLarge: ours went out first
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    """The declared body size; the largest if several are sent (the server refuses those)."""
    sizes = [
        int(value)
        for key, value in scope.get("headers", [])
        if key.lower() == b"content-length" and value.strip().isdigit()
    ]
    return max(sizes) if sizes else None


async def _refuse(send: Send, limit: int) -> None:
    detail = f"request body is larger than {limit} bytes"
    body = json.dumps({"detail": detail, "code": "too_large", "field": None}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
