"""`/admin`: the WHM-like pages for admins and resellers (resellers see their own accounts).

Every change goes through `AccountService`, exactly as the API's routes do; a form's
inputs are named like the API's body, and an error is shown next to its field.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from ...errors import JoPanelError
from ..context import web_context
from ..render import page, redirect
from ..session import Csrf, StaffUser

router = APIRouter(prefix="/admin", include_in_schema=False)

PER_PAGE = 25
StatusFilter = Literal["", "active", "suspended"]


@router.get("")
def dashboard(request: Request, principal: StaffUser) -> HTMLResponse:
    """Accounts by status (from the index) and, for admins, the latest audit entries."""
    ctx = web_context(request)
    counts = {}
    for status in ("active", "suspended"):
        _rows, total = ctx.accounts.search(
            principal, search=None, status=status, package=None, page=1, per_page=1
        )
        counts[status] = total
    return page(request, "admin/dashboard.html", principal=principal, counts=counts)


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
    done: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """An account's six documents, read from disk, and what can be done to it."""
    ctx = web_context(request)
    view = ctx.accounts.visible(principal, username)
    return page(request, "admin/user.html", principal=principal, view=view, done=done)


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
