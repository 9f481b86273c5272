"""`/panel/ssl`: HTTPS for each of the account's sites: get a certificate (ACME), upload
one, redirect/HSTS, turn it off. Same AccountService ops as `/api/user/ssl`; a refusal
(a failed order with the CA's reason, a certificate that does not fit) is shown next to
its site's form. Keys are posted, never shown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Principal
from ...system.certcheck import MAX_PEM_BYTES
from ..context import web_context
from ..forms import change_or_refuse
from ..render import page
from ..session import AccountUser, Csrf

router = APIRouter(prefix="/panel/ssl", include_in_schema=False)

Site = Annotated[str, Form(min_length=1, max_length=253)]
Pem = Annotated[str, Form(max_length=MAX_PEM_BYTES)]


def ssl_page(
    request: Request, principal: Principal, *, done: str = "", errors: dict[str, str] | None = None
) -> HTMLResponse:
    ctx = web_context(request)
    rows = ctx.accounts.read(principal, "ssl_status", principal.username)
    return page(request, "panel/ssl.html", principal=principal, rows=rows, done=done,
                errors=errors or {})  # fmt: skip


@router.get("")
def ssl_home(request: Request, principal: AccountUser, done: str = "") -> HTMLResponse:
    return ssl_page(request, principal, done=done[:64])


def _change(
    request: Request, principal: Principal, op: str, payload: dict[str, Any], done: str
) -> Response:
    site = str(payload["domain"])
    return change_or_refuse(
        request,
        principal,
        op,
        payload,
        then=f"/panel/ssl?done={done}",
        refused=lambda exc: ssl_page(request, principal, errors={site: exc.message}),
    )


@router.post("/issue", dependencies=[Csrf])
def issue(request: Request, principal: AccountUser, domain: Site) -> Response:
    return _change(request, principal, "ssl_issue", {"domain": domain}, "certificate+issued")


@router.post("/upload", dependencies=[Csrf])
def upload(
    request: Request,
    principal: AccountUser,
    domain: Site,
    certificate: Pem,
    key: Pem,
    chain: Pem = "",
) -> Response:
    payload = {"domain": domain, "certificate": certificate, "key": key, "chain": chain or None}
    return _change(request, principal, "ssl_upload", payload, "certificate+installed")


@router.post("/options", dependencies=[Csrf])
def options(
    request: Request,
    principal: AccountUser,
    domain: Site,
    redirect_http: Annotated[str, Form(max_length=3)] = "",
    hsts: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    payload = {"domain": domain, "redirect": redirect_http == "on", "hsts": hsts == "on"}
    return _change(request, principal, "ssl_options", payload, "options+saved")


@router.post("/off", dependencies=[Csrf])
def off(request: Request, principal: AccountUser, domain: Site) -> Response:
    return _change(request, principal, "ssl_off", {"domain": domain}, "HTTPS+turned+off")
