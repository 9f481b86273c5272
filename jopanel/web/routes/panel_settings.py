"""`/panel/php` (the PHP version and the allow-listed PHP settings) and the www alias
toggle of the overview's domains. Same ops as `PUT /api/user/php` and
`PUT /api/user/domains/{name}`; a refusal (out of range, above the account's memory
limit, a www name another account holds) is shown next to its form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Principal
from ...errors import JoPanelError
from ..context import web_context
from ..render import note_refusal, page, redirect
from ..session import AccountUser, Csrf
from .panel import panel_page

router = APIRouter(prefix="/panel", include_in_schema=False)

Number = Annotated[int, Form(ge=0, le=1_000_000)]


def php_page(
    request: Request,
    principal: Principal,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    ctx = web_context(request)
    php = ctx.accounts.read(principal, "php_show", principal.username)
    return page(
        request, "panel/php.html", principal=principal, php=php,
        done=done, errors=errors or {},
    )  # fmt: skip


@router.get("/php")
def php(request: Request, principal: AccountUser, done: str = "") -> HTMLResponse:
    return php_page(request, principal, done=done[:64])


@router.post("/php/settings", dependencies=[Csrf])
def set_settings(
    request: Request,
    principal: AccountUser,
    version: Annotated[str, Form(max_length=8)],
    memory_limit_mb: Number,
    max_execution_time: Number,
    upload_max_filesize_mb: Number,
    post_max_size_mb: Number,
    max_input_vars: Number,
    display_errors: Annotated[bool, Form()] = False,
) -> Response:
    settings: dict[str, Any] = {
        "memory_limit_mb": memory_limit_mb,
        "max_execution_time": max_execution_time,
        "upload_max_filesize_mb": upload_max_filesize_mb,
        "post_max_size_mb": post_max_size_mb,
        "max_input_vars": max_input_vars,
        "display_errors": display_errors,
    }
    request.state.audit_target = principal.username
    ctx = web_context(request)
    current = ctx.accounts.read(principal, "php_show", principal.username)
    # Only what changed is sent: an unchanged memory limit above a lowered account
    # limit must not block saving the other settings.
    changed = {k: v for k, v in settings.items() if current["settings"].get(k) != v}
    payload: dict[str, Any] = {"settings": changed}
    if version != current["version"]:
        payload["version"] = version
    try:
        ctx.accounts.account_op(principal, "php_set", payload)
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        return php_page(request, principal, errors={"php": exc.message})
    return redirect("/panel/php?done=PHP+settings+saved")


@router.post("/domains/www", dependencies=[Csrf])
def set_www(
    request: Request,
    principal: AccountUser,
    domain: Annotated[str, Form(max_length=253)],
    www: Annotated[bool, Form()],
) -> Response:
    request.state.audit_target = principal.username
    try:
        web_context(request).accounts.account_op(
            principal, "domain_www_set", {"domain": domain, "www": www}
        )
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        return panel_page(request, principal, errors={"domains": exc.message})
    return redirect("/panel?done=" + ("www+on" if www else "www+off"))
