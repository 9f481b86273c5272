"""`/api/user`: a hosting account's own data (an admin gets here through login-as)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

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
def stats(
    principal: HostingAccount,
    ctx: Ctx,
    refresh: Annotated[
        bool, Query(description="measure the disk again instead of a recent cached walk")
    ] = False,
) -> StatsOut:
    """Disk from the filesystem's quota, or from a walk of the home cached for 15 minutes
    (`disk.source`, `disk.age_s`); bandwidth this month per domain from the access logs."""
    return StatsOut.model_validate(ctx.accounts.stats(principal, principal.username, refresh))
