"""`/admin/packages` and `/admin/audit`: plans and the audit log (changes: admins only,
as in the API)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Principal
from ...db import audit
from ...db.session import session_scope
from ...errors import Forbidden, JoPanelError
from ...schemas.account import LIMIT_FIELDS
from ..context import web_context
from ..render import note_refusal, page, redirect
from ..session import Csrf, StaffUser, current_user

router = APIRouter(prefix="/admin", include_in_schema=False)

AUDIT_PER_PAGE = 50


def admin_user(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    if principal.role != "admin":
        raise Forbidden("admins only")
    return principal


AdminUser = Annotated[Principal, Depends(admin_user)]


def _packages_page(
    request: Request,
    principal: Principal,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    packages = web_context(request).agent.execute("package_list", {}, actor=principal.actor)
    return page(
        request, "admin/packages.html", principal=principal, packages=packages.data,
        fields=LIMIT_FIELDS, done=done, errors=errors or {}, form=form or {},
    )  # fmt: skip


@router.get("/packages")
def packages(request: Request, principal: StaffUser, done: str = "") -> HTMLResponse:
    return _packages_page(request, principal, done=done[:64])


async def _package_values(request: Request) -> dict[str, int | str]:
    """The limit fields a package form sent (empty ones left out)."""
    form = await request.form()
    values: dict[str, int | str] = {}
    for field in LIMIT_FIELDS:
        raw = form.get(field)
        if isinstance(raw, str) and raw.strip():
            try:
                values[field] = int(raw)
            except ValueError:
                values[field] = raw  # the agent names the field and the bad value
    description = form.get("description")
    if isinstance(description, str) and description:
        values["description"] = description[:500]
    return values


PackageValues = Annotated[dict[str, int | str], Depends(_package_values)]


@router.post("/packages", dependencies=[Csrf])
def create_package(
    request: Request,
    principal: AdminUser,
    values: PackageValues,
    name: Annotated[str, Form(max_length=32)],
) -> Response:
    request.state.audit_target = name
    return _package_op(request, principal, "package_create", name, values, "package+created")


@router.post("/packages/{name}", dependencies=[Csrf])
def update_package(
    request: Request, principal: AdminUser, name: str, values: PackageValues
) -> Response:
    return _package_op(request, principal, "package_update", name, values, "package+updated")


@router.post("/packages/{name}/delete", dependencies=[Csrf])
def delete_package(request: Request, principal: AdminUser, name: str) -> Response:
    try:
        web_context(request).agent.execute("package_delete", {"name": name}, actor=principal.actor)
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        return _packages_page(request, principal, errors={f"delete-{name}": exc.message})
    return redirect("/admin/packages?done=package+deleted")


def _package_op(
    request: Request,
    principal: Principal,
    op: str,
    name: str,
    values: dict[str, int | str],
    done: str,
) -> Response:
    try:
        web_context(request).agent.execute(
            op, {"name": name, "values": values}, actor=principal.actor
        )
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        key = "new" if op == "package_create" else name
        form = {k: str(v) for k, v in values.items()} | {"name": name}
        return _packages_page(request, principal, errors={key: str(exc)}, form=form)
    return redirect(f"/admin/packages?done={done}")


@router.get("/audit")
def audit_log(
    request: Request,
    principal: AdminUser,
    actor: Annotated[str, Query(max_length=128)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=255)] = "",
    result: Annotated[str, Query(max_length=32)] = "",
    since: datetime | None = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Every change from every path (the agent's journal is copied in first) and every
    panel request and login, newest first."""
    ctx = web_context(request)
    ctx.accounts.sync_audit()
    with session_scope(ctx.sessions) as db:
        rows, total = audit.search(
            db, actor=actor or None, action=action or None, target=target or None,
            result=result or None, since=since, page=page_no, per_page=AUDIT_PER_PAGE,
        )  # fmt: skip
    return page(
        request, "admin/audit.html", principal=principal, rows=rows, total=total,
        filters={"actor": actor, "action": action, "target": target, "result": result},
        page_no=page_no, pages=max(1, math.ceil(total / AUDIT_PER_PAGE)),
    )  # fmt: skip
