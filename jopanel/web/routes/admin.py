"""`/admin`: the WHM-like pages for admins and resellers (resellers see their own accounts).

Every change goes through `AccountService`, exactly as the API's routes do; a form's
inputs are named like the API's body, and an error is shown next to its field.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Identity, Principal
from ...db import audit
from ...db.session import session_scope
from ...errors import Forbidden, JoPanelError
from ...hostinfo import disk_usage, host_load
from ...schemas.summary import AccountSummary
from ..context import web_context
from ..render import note_refusal, page, redirect
from ..session import Csrf, StaffUser, remember_staff_session, set_session_cookie

router = APIRouter(prefix="/admin", include_in_schema=False)

PER_PAGE = 25
StatusFilter = Literal["", "active", "suspended"]


@router.get("")
def dashboard(request: Request, principal: StaffUser) -> HTMLResponse:
    """Accounts by status (from the index); for admins also the server's load, memory,
    disk and services, and the latest audit entries."""
    ctx = web_context(request)
    counts = {}
    for status in ("active", "suspended"):
        _rows, total = ctx.accounts.search(
            principal, search=None, status=status, package=None, page=1, per_page=1
        )
        counts[status] = total
    host: dict[str, object] = {}
    recent: list[object] = []
    services: list[dict[str, object]] = []
    if principal.role == "admin":
        host = host_load().row()
        host["disk_used_mb"], host["disk_total_mb"] = disk_usage(ctx.settings.root)
        services = ctx.agent.execute("service_status", {}, actor=principal.actor).data
        ctx.accounts.sync_audit()
        with session_scope(ctx.sessions) as db:
            recent = list(audit.search(db, per_page=8)[0])
    return page(
        request, "admin/dashboard.html", principal=principal, counts=counts, host=host,
        services=services, recent=recent,
    )  # fmt: skip


@router.get("/users")
def users(
    request: Request,
    principal: StaffUser,
    search: Annotated[str, Query(max_length=100)] = "",
    status: StatusFilter = "",
    package: Annotated[str, Query(max_length=32)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The account table; htmx swaps only the table as the search box changes."""
    ctx = web_context(request)
    rows, total = ctx.accounts.search(
        principal, search=search or None, status=status or None, package=package or None,
        page=page_no, per_page=PER_PAGE,
    )  # fmt: skip
    template = "admin/_users_table.html" if request.headers.get("hx-target") else "admin/users.html"
    return page(
        request, template, principal=principal, rows=rows, total=total, search=search,
        status=status, package=package, page_no=page_no,
        pages=max(1, math.ceil(total / PER_PAGE)), form={}, errors={},
    )  # fmt: skip


@router.post("/users", dependencies=[Csrf])
def create_user(
    request: Request,
    principal: StaffUser,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    contact_email: Annotated[str, Form(max_length=254)],
    primary_domain: Annotated[str, Form(max_length=253)],
    package: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    ctx = web_context(request)
    request.state.audit_target = username[:64]
    form = {"username": username, "contact_email": contact_email,
            "primary_domain": primary_domain, "package": package}  # fmt: skip
    try:
        ctx.accounts.create(
            principal, username=username, password=password, contact_email=contact_email,
            primary_domain=primary_domain, package=package or None,
        )  # fmt: skip
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        rows, total = ctx.accounts.search(
            principal, search=None, status=None, package=None, page=1, per_page=PER_PAGE
        )
        return page(
            request, "admin/users.html", principal=principal, rows=rows, total=total,
            search="", status="", package="", page_no=1,
            pages=max(1, math.ceil(total / PER_PAGE)), form=form,
            errors={exc.field or "form": exc.message},
        )  # fmt: skip
    return redirect(f"/admin/users/{username}?done=created")


@router.get("/users/{username}")
def user_detail(
    request: Request,
    principal: StaffUser,
    username: str,
    done: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """An account's six documents, read from disk, its history, and what can be done."""
    return account_page(request, principal, username, done=done)


def account_page(
    request: Request,
    principal: Principal,
    username: str,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    diff: list[dict[str, object]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = web_context(request)
    view = ctx.accounts.visible(principal, username)
    history = ctx.accounts.read(principal, "user_history", username)
    packages = [p["name"] for p in ctx.agent.execute("package_list", {}).data]
    return page(
        request, "admin/user.html", principal=principal, view=view, done=done,
        history=history, packages=packages, errors=errors or {}, diff=diff,
        status_code=status_code,
    )  # fmt: skip


def _failed(
    request: Request, principal: Principal, username: str, exc: JoPanelError, field: str
) -> HTMLResponse:
    """The account page again, the reason next to the form that caused it."""
    if exc.http_status >= 500:
        raise exc
    note_refusal(request, exc)
    return account_page(request, principal, username, errors={field: exc.message})


@router.post("/users/{username}/password", dependencies=[Csrf])
def reset_password(
    request: Request,
    principal: StaffUser,
    username: str,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        web_context(request).accounts.reset_password(principal, username, password)
    except JoPanelError as exc:
        return _failed(request, principal, username, exc, "password")
    return redirect(f"/admin/users/{username}?done=password+reset")


@router.post("/users/{username}/package", dependencies=[Csrf])
def change_package(
    request: Request,
    principal: StaffUser,
    username: str,
    package: Annotated[str, Form(max_length=32)],
    revision: Annotated[str, Form(max_length=71)],
) -> Response:
    """Refused (412) when the account changed since the page was read."""
    patch = {"account": {"package": package}}
    try:
        web_context(request).accounts.update(principal, username, patch, revision or None)
    except JoPanelError as exc:
        return _failed(request, principal, username, exc, "package")
    return redirect(f"/admin/users/{username}?done=package+changed")


@router.post("/users/{username}/delete", dependencies=[Csrf])
def delete_user(
    request: Request,
    principal: StaffUser,
    username: str,
    confirm: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Only when the admin typed the account's name."""
    if confirm != username:
        note_refusal(request, "the account's name was not typed")
        return account_page(
            request, principal, username,
            errors={"confirm": f"type {username} to delete this account"},
        )  # fmt: skip
    web_context(request).accounts.delete(principal, username)
    return redirect("/admin/users?deleted=" + username)


@router.post("/users/{username}/rollback", dependencies=[Csrf])
def rollback(
    request: Request,
    principal: StaffUser,
    username: str,
    seq: Annotated[int, Form(ge=1)],
) -> Response:
    try:
        web_context(request).accounts.rollback(principal, username, seq)
    except JoPanelError as exc:
        return _failed(request, principal, username, exc, "history")
    return redirect(f"/admin/users/{username}?done=rolled+back+to+revision+{seq}")


@router.get("/users/{username}/diff")
def diff(
    request: Request,
    principal: StaffUser,
    username: str,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    rows = web_context(request).accounts.read(principal, "user_diff", username, old=old, new=new)
    return account_page(request, principal, username, diff=rows)


@router.post("/users/{username}/login-as", dependencies=[Csrf])
def login_as(request: Request, principal: StaffUser, username: str) -> Response:
    """A session as the account that names who opened it; the banner leads back."""
    ctx = web_context(request)
    if principal.impersonator:
        raise Forbidden("already logged in as someone else")
    view = ctx.accounts.visible(principal, username)
    ctx.accounts.guard_staff_account(principal, username, "log in as")
    account = view["account"]
    if account["status"] != "active":
        raise Forbidden("this account is suspended", field="username")
    identity = Identity(account["uid"], AccountSummary.of_view(view).created_at)
    request.state.audit_detail = f"{principal.actor} logged in as {username}"
    ip = getattr(request.state, "client_ip", None) or "unknown"
    with session_scope(ctx.sessions) as db:
        pair = ctx.auth.login_as(db, principal, username, identity, ip)
    response = redirect("/panel")
    remember_staff_session(response, request)
    set_session_cookie(response, request, pair.session_id)
    return response


@router.post("/users/{username}/{action}", dependencies=[Csrf])
def user_action(
    request: Request,
    principal: StaffUser,
    username: str,
    action: Literal["suspend", "unsuspend"],
) -> Response:
    ctx = web_context(request)
    ctx.accounts.set_status(principal, username, suspend=action == "suspend")
    return redirect(f"/admin/users/{username}?done={action}ed")
