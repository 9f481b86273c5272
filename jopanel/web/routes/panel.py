"""`/panel`: the cPanel-like pages of a hosting account (its own data only).

Every change goes through `AccountService`, like the API's `/api/user` routes; a refused
change (a limit, a taken domain, a bad key) shows its reason next to the form.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Principal
from ...errors import JoPanelError, Throttled
from ...hostinfo import server_address
from ..context import web_context
from ..forms import change_or_refuse
from ..render import note_refusal, page, redirect
from ..session import AccountUser, Csrf, clear_session_cookie

router = APIRouter(prefix="/panel", include_in_schema=False)


def panel_page(
    request: Request,
    principal: Principal,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    """The account, usage against limits, its domains, SSH keys and PHP version."""
    ctx = web_context(request)
    name = principal.username
    return page(
        request, "panel/overview.html", principal=principal,
        view=ctx.accounts.visible(principal, name), stats=ctx.accounts.stats(principal, name),
        domains=ctx.accounts.read(principal, "domain_list", name), server=server_address(),
        keys=ctx.accounts.read(principal, "ssh_key_list", name),
        done=done, errors=errors or {}, form=form or {},
    )  # fmt: skip


@router.get("")
def overview(request: Request, principal: AccountUser, done: str = "") -> HTMLResponse:
    return panel_page(request, principal, done=done[:64])


def _change(
    request: Request,
    principal: Principal,
    op: str,
    payload: dict[str, str | None],
    *,
    field: str,
    done: str,
    form: dict[str, str] | None = None,
) -> Response:
    return change_or_refuse(
        request, principal, op, payload, then=f"/panel?done={done}",
        refused=lambda exc: panel_page(request, principal, errors={field: exc.message}, form=form),
    )  # fmt: skip


@router.post("/domains", dependencies=[Csrf])
def add_domain(
    request: Request,
    principal: AccountUser,
    domain: Annotated[str, Form(max_length=253)],
    kind: Annotated[Literal["addon", "subdomain", "alias"], Form()] = "addon",
    parent: Annotated[str, Form(max_length=253)] = "",
) -> Response:
    payload = {"domain": domain, "type": kind, "parent": parent or None}
    form = {"domain": domain, "kind": kind, "parent": parent}
    return _change(request, principal, "domain_add", payload, field="domain",
                   done="domain+added", form=form)  # fmt: skip


@router.post("/domains/remove", dependencies=[Csrf])
def remove_domain(
    request: Request, principal: AccountUser, domain: Annotated[str, Form(max_length=253)]
) -> Response:
    return _change(request, principal, "domain_remove", {"domain": domain},
                   field="domains", done="domain+removed")  # fmt: skip


@router.post("/ssh-keys", dependencies=[Csrf])
def add_key(
    request: Request, principal: AccountUser, key: Annotated[str, Form(max_length=16384)]
) -> Response:
    return _change(request, principal, "ssh_key_add", {"key": key.strip()}, field="key",
                   done="key+added", form={"key": key})  # fmt: skip


@router.post("/ssh-keys/remove", dependencies=[Csrf])
def remove_key(
    request: Request, principal: AccountUser, fingerprint: Annotated[str, Form(max_length=128)]
) -> Response:
    return _change(request, principal, "ssh_key_remove", {"fingerprint": fingerprint},
                   field="keys", done="key+removed")  # fmt: skip


@router.post("/php", dependencies=[Csrf])
def set_php(
    request: Request, principal: AccountUser, version: Annotated[str, Form(max_length=8)]
) -> Response:
    return _change(request, principal, "php_version_set", {"version": version},
                   field="php", done="PHP+version+set")  # fmt: skip


@router.post("/password", dependencies=[Csrf])
def change_password(
    request: Request,
    principal: AccountUser,
    current: Annotated[str, Form(max_length=1024)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """The account's one password (SFTP, SSH, the panel); every session ends, this one
    too, so the next page is the login."""
    ctx = web_context(request)
    ip = getattr(request.state, "client_ip", None) or "unknown"
    request.state.audit_target = principal.username
    if principal.impersonator is None:
        # The account proves it knows its password (an admin's login-as need not); the
        # login throttle counts each try, so a stolen cookie cannot guess it quietly.
        try:
            ctx.auth.throttle.attempt(principal.username, ip)
        except Throttled as exc:
            note_refusal(request, exc)
            return panel_page(request, principal, errors={"current": exc.message})
        if not ctx.accounts.verify(principal.username, current, ip).ok:
            note_refusal(request, "the current password is wrong")
            return panel_page(
                request, principal, errors={"current": "the current password is wrong"}
            )
        ctx.auth.throttle.success(principal.username, ip)
    try:
        ctx.accounts.reset_password(principal, principal.username, password)
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        return panel_page(request, principal, errors={"password": exc.message})
    response = redirect("/login")
    clear_session_cookie(response)
    return response
