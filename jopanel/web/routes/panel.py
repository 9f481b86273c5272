"""`/panel`: the cPanel-like pages of a hosting account (its own data only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..context import web_context
from ..render import page
from ..session import AccountUser

router = APIRouter(prefix="/panel", include_in_schema=False)


@router.get("")
def overview(request: Request, principal: AccountUser) -> HTMLResponse:
    """The account, its primary domain and home, and usage against its limits."""
    ctx = web_context(request)
    view = ctx.accounts.visible(principal, principal.username)
    stats = ctx.accounts.stats(principal, principal.username)
    return page(request, "panel/overview.html", principal=principal, view=view, stats=stats)
