"""`install_web(app)`: the server-rendered UI on the API's app (same services, same
sessions). Static files are shipped in the package: no CDN, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..api.errors import jopanel_error_response
from ..errors import JoPanelError
from .render import error_page
from .routes import (
    admin,
    auth,
    panel,
    panel_cron,
    panel_databases,
    panel_files,
    panel_settings,
    panel_ssl,
    system,
)

STATIC_DIR = Path(__file__).with_name("static")


def _error(request: Request, exc: Exception) -> Response:
    """Pages get an HTML answer, the API keeps its JSON one."""
    assert isinstance(exc, JoPanelError)
    if request.url.path.startswith("/api"):
        return jopanel_error_response(request, exc)
    return error_page(request, exc)


class NoFraming:
    """Pages may not be framed by another site (clickjacking of one-click forms)."""

    HEADERS = [
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def install_web(app: FastAPI) -> None:
    app.add_middleware(NoFraming)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        auth,
        admin,
        system,
        panel,
        panel_databases,
        panel_files,
        panel_cron,
        panel_settings,
        panel_ssl,
    ):
        app.include_router(module.router)
    app.add_exception_handler(JoPanelError, _error)
