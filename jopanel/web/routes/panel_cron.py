"""`/panel/cron`: the account's cron jobs (list, add from typed fields, remove, on/off).

Same AccountService ops as `/api/user/cron`; the agent checks every field again
(jopanel/cronspec.py) and enforces `max_cron_jobs`. A refusal is shown next to its form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ...auth.sessions import Principal
from ...cronspec import MAX_COMMAND_CHARS, SHORTCUTS
from ..context import web_context
from ..forms import change_or_refuse
from ..render import page
from ..session import AccountUser, Csrf

router = APIRouter(prefix="/panel/cron", include_in_schema=False)

Field = Annotated[str, Form(max_length=64)]
FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")


def cron_page(
    request: Request,
    principal: Principal,
    *,
    done: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    ctx = web_context(request)
    listing = ctx.accounts.read(principal, "cron_list", principal.username)
    return page(
        request, "panel/cron.html", principal=principal, listing=listing,
        shortcuts=[s for s in SHORTCUTS if s != "@annually"], max_command=MAX_COMMAND_CHARS,
        done=done, errors=errors or {}, form=form or {},
    )  # fmt: skip


@router.get("")
def cron(request: Request, principal: AccountUser, done: str = "") -> HTMLResponse:
    return cron_page(request, principal, done=done[:64])


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
        request, principal, op, payload, then=f"/panel/cron?done={done}",
        refused=lambda exc: cron_page(request, principal, errors={field: exc.message}, form=form),
    )  # fmt: skip


@router.post("", dependencies=[Csrf])
def add(
    request: Request,
    principal: AccountUser,
    command: Annotated[str, Form(max_length=MAX_COMMAND_CHARS * 4)],
    shortcut: Annotated[str, Form(max_length=16)] = "",
    minute: Field = "*",
    hour: Field = "*",
    day_of_month: Field = "*",
    month: Field = "*",
    day_of_week: Field = "*",
) -> Response:
    values = dict(zip(FIELDS, (minute, hour, day_of_month, month, day_of_week), strict=True))
    payload: dict[str, Any] = {"command": command}
    if shortcut:
        payload["shortcut"] = shortcut
    else:
        payload.update(values)
    form = {"command": command, "shortcut": shortcut, **values}
    return _change(request, principal, "cron_add", payload, field="add",
                   done="cron+job+added", form=form)  # fmt: skip


@router.post("/remove", dependencies=[Csrf])
def remove(
    request: Request, principal: AccountUser, job: Annotated[str, Form(max_length=32)]
) -> Response:
    return _change(request, principal, "cron_remove", {"id": job},
                   field="jobs", done="cron+job+removed")  # fmt: skip


@router.post("/enabled", dependencies=[Csrf])
def set_enabled(
    request: Request, principal: AccountUser, enabled: Annotated[bool, Form()]
) -> Response:
    return _change(request, principal, "cron_set_enabled", {"enabled": enabled},
                   field="enabled", done="cron+on" if enabled else "cron+off")  # fmt: skip
