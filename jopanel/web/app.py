"""`install_web(app)`: the server-rendered UI on the API's app (same services, same
sessions). Static files are shipped in the package: no CDN, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from ..api.errors import jopanel_error_response
from ..errors import JoPanelError
from .render import error_page
from .routes import admin, auth, panel, system

STATIC_DIR = Path(__file__).with_name("static")


def _error(request: Request, exc: Exception) -> Response:
    """Pages get an HTML answer, the API keeps its JSON one."""
    assert isinstance(exc, JoPanelError)
    if request.url.path.startswith("/api"):
        return jopanel_error_response(request, exc)
    return error_page(request, exc)


def install_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (auth, admin, system, panel):
        app.include_router(module.router)
    app.add_exception_handler(JoPanelError, _error)
