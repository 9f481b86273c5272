"""Rendering pages: one Jinja2 environment (autoescaped), the layout's common values,
and HTML answers for errors on pages (the API keeps its JSON ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ..auth.sessions import Principal
from ..errors import JoPanelError
from .session import LoginRequired, csrf_token, remember_csrf

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def page(
    request: Request,
    template: str,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A full page, or only its fragment when htmx asked (`HX-Request`) for one."""
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf_token": csrf_token(request),
            "htmx": request.headers.get("hx-request") == "true",
            **values,
        },
        status_code=status_code,
    )
    remember_csrf(request, response)
    return response


def note_refusal(request: Request, exc: JoPanelError | str) -> None:
    """A form shown again with its error answers 200; the audit still records the
    refusal (denied, throttled or failed) and why."""
    if isinstance(exc, str):
        result, message = "failed", exc
    else:
        result = {401: "denied", 403: "denied", 429: "throttled"}.get(exc.http_status, "failed")
        message = str(exc)
    request.state.audit_result = result
    request.state.audit_detail = message[:500]


def redirect(url: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303), never re-post on reload."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, exc: JoPanelError) -> Response:
    """A page-side error: to /login when not logged in, else a readable page (503: the
    agent is down; the banner says so instead of a broken page)."""
    if isinstance(exc, LoginRequired):
        return redirect("/login")
    status = exc.http_status if exc.http_status < 500 or exc.http_status == 503 else 500
    message = str(exc) if status != 500 else "something went wrong; the error is logged"
    return page(request, "error.html", status_code=status, status=status, message=message)
