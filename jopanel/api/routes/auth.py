"""`/api/auth`: login, refresh, logout, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ...auth.sessions import TokenPair
from ...db.session import session_scope
from ..deps import ClientIp, Ctx, CurrentPrincipal
from ..schemas import LoginIn, MeOut, RefreshIn, TokenOut, error_responses

router = APIRouter(prefix="/api/auth", tags=["auth"])


def token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        username=pair.username,
        role=pair.role,
        impersonator=pair.impersonator,
    )


@router.post(
    "/login",
    name="auth.login",
    summary="Log in with a username and password",
    responses=error_responses(401, 403, 422, 429, 503),
)
def login(body: LoginIn, request: Request, ctx: Ctx, ip: ClientIp) -> TokenOut:
    """Returns a short-lived access token and a refresh token. Failed attempts are counted
    per account and per address; over the limit the answer is 429 with Retry-After."""
    request.state.audit_actor = body.username[:64]
    request.state.audit_target = body.username[:64]
    with session_scope(ctx.sessions) as db:
        pair = ctx.auth.login(db, body.username, body.password, ip)
    return token_out(pair)


@router.post(
    "/refresh",
    name="auth.refresh",
    summary="Trade a refresh token for a new pair",
    responses=error_responses(401, 422),
)
def refresh(body: RefreshIn, request: Request, ctx: Ctx) -> TokenOut:
    """Each refresh token works once; presenting a used one ends the whole session."""
    with session_scope(ctx.sessions) as db:
        pair = ctx.auth.refresh(db, body.refresh_token)
    request.state.audit_actor = (
        pair.username if not pair.impersonator else f"{pair.impersonator} as {pair.username}"
    )
    return token_out(pair)


@router.post(
    "/logout",
    name="auth.logout",
    status_code=204,
    summary="End this login (its access and refresh tokens)",
    responses=error_responses(401),
)
def logout(principal: CurrentPrincipal, ctx: Ctx) -> Response:
    with session_scope(ctx.sessions) as db:
        ctx.auth.logout(db, principal)
    return Response(status_code=204)


@router.get(
    "/me", name="auth.me", summary="The logged-in principal", responses=error_responses(401)
)
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        username=principal.username, role=principal.role, impersonator=principal.impersonator
    )
