"""`/api/user`: a hosting account's own data (an admin gets here through login-as)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..deps import Ctx, HostingAccount
from ..schemas import AccountDetail, StatsOut, error_responses
from .admin_users import detail_response

router = APIRouter(prefix="/api/user", tags=["account"])


@router.get(
    "/account",
    name="user.account",
    summary="This account's configuration, read from disk",
    responses=error_responses(401, 403, 503),
)
def account(principal: HostingAccount, ctx: Ctx, response: Response) -> AccountDetail:
    return detail_response(ctx.accounts.visible(principal, principal.username), response)


@router.get(
    "/stats",
    name="user.stats",
    summary="Limits next to measured usage",
    responses=error_responses(401, 403, 503),
)
def stats(principal: HostingAccount, ctx: Ctx) -> StatsOut:
    return StatsOut.model_validate(ctx.accounts.stats(principal, principal.username))
