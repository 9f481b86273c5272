"""`/panel/databases`: the account's MariaDB databases (list with sizes, create, reset a
password, delete after typing the name). Same AccountService ops as `/api/user/databases`;
a refusal (a limit, a weak password, a bad name) is shown next to its form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Principal
from ..context import web_context
from ..forms import change_or_refuse
from ..render import note_refusal, page
from ..session import AccountUser, Csrf

router = APIRouter(prefix="/panel/databases", include_in_schema=False)

Name = Annotated[str, Form(min_length=1, max_length=96)]
Password = Annotated[str, Form(max_length=128)]


def databases_page(
    request: Request,
    principal: Principal,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    ctx = web_context(request)
    listing = ctx.accounts.read(principal, "db_list", principal.username)
    return page(
        request, "panel/databases.html", principal=principal, listing=listing,
        prefix=f"{principal.username}_", done=done, errors=errors or {}, form=form or {},
    )  # fmt: skip


@router.get("")
def databases(request: Request, principal: AccountUser, done: str = "") -> HTMLResponse:
    return databases_page(request, principal, done=done[:64])


def _change(
    request: Request,
    principal: Principal,
    op: str,
    payload: dict[str, Any],
    *,
    field: str,
    done: str,
    form: dict[str, str] | None = None,
) -> Response:
    return change_or_refuse(
        request,
        principal,
        op,
        payload,
        then=f"/panel/databases?done={done}",
        refused=lambda exc: databases_page(
            request, principal, errors={field: exc.message}, form=form
        ),
    )


@router.post("", dependencies=[Csrf])
def create(request: Request, principal: AccountUser, name: Name, password: Password) -> Response:
    # The password is never put back into the form: only the name is.
    return _change(request, principal, "db_create", {"name": name, "password": password},
                   field="create", done="database+created", form={"name": name})  # fmt: skip


@router.post("/password", dependencies=[Csrf])
def set_password(
    request: Request, principal: AccountUser, name: Name, password: Password
) -> Response:
    return _change(request, principal, "db_password_set", {"name": name, "password": password},
                   field=f"password-{name}", done="password+set")  # fmt: skip


@router.post("/delete", dependencies=[Csrf])
def delete(
    request: Request,
    principal: AccountUser,
    name: Name,
    confirm: Annotated[str, Form(max_length=96)] = "",
) -> Response:
    if confirm.strip() != name:
        note_refusal(request, "confirmation does not match")
        return databases_page(
            request, principal, errors={f"delete-{name}": f"type {name} to delete it"}
        )
    return _change(request, principal, "db_delete", {"name": name},
                   field=f"delete-{name}", done="database+deleted")  # fmt: skip
