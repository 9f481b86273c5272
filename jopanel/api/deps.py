"""`Annotated` dependencies: the API context, the current principal, role gates."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth.sessions import Principal
from ..db.session import session_scope
from ..errors import Forbidden, NotAuthenticated
from .context import ApiContext

bearer = HTTPBearer(auto_error=False, description="`access_token` from /api/auth/login")


def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


def client_ip(request: Request) -> str:
    """Set by the audit middleware from the peer (and X-Forwarded-For of a trusted proxy)."""
    ip: str = getattr(request.state, "client_ip", None) or "unknown"
    return ip


ClientIp = Annotated[str, Depends(client_ip)]


def current_principal(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("not logged in")
    with session_scope(ctx.sessions) as db:
        principal = ctx.auth.authenticate(db, credentials.credentials)
    request.state.audit_actor = principal.actor
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def staff(principal: CurrentPrincipal) -> Principal:
    if principal.role not in ("admin", "reseller"):
        raise Forbidden("admin or reseller only")
    return principal


def admin(principal: CurrentPrincipal) -> Principal:
    if principal.role != "admin":
        raise Forbidden("admin only")
    return principal


def hosting_account(principal: CurrentPrincipal) -> Principal:
    if principal.role != "user":
        raise Forbidden("hosting accounts only; an admin can use login-as")
    return principal


Staff = Annotated[Principal, Depends(staff)]
Admin = Annotated[Principal, Depends(admin)]
HostingAccount = Annotated[Principal, Depends(hosting_account)]
