"""The browser's login: an HttpOnly cookie naming one of the API's login sessions, and a
CSRF token for every state-changing request.

The session cookie holds the login session's id (256 random bits), so revoking the
session (logout, suspension, a new password, deletion) ends the browser's login exactly
as it ends the API tokens. It is HttpOnly, SameSite=Lax, and Secure when the request came
over TLS.

CSRF: a random token in its own cookie, echoed in every form (`csrf_token`) and in the
`X-CSRF-Token` header of every htmx request; a POST whose token is missing or differs is
refused before anything runs (403). State never changes on GET.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from ..auth.sessions import Principal
from ..db.session import session_scope
from ..errors import Forbidden, JoPanelError, NotAuthenticated
from .context import web_context

SESSION_COOKIE = "jopanel_session"
STAFF_COOKIE = "jopanel_staff_session"  # the staff login behind a login-as
CSRF_COOKIE = "jopanel_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(JoPanelError):
    """No live browser session: the page answers with a redirect to /login."""

    code = "login_required"
    http_status = 303


def is_tls(request: Request) -> bool:
    """Served over TLS: directly, or by a trusted proxy that says so."""
    return request.url.scheme == "https" or bool(getattr(request.state, "forwarded_tls", False))


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="lax", secure=is_tls(request),
        path="/",
    )  # fmt: skip


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(STAFF_COOKIE, path="/")


def remember_staff_session(response: Response, request: Request) -> None:
    """Before login-as: keep the staff login's session to come back to."""
    response.set_cookie(
        STAFF_COOKIE, request.cookies.get(SESSION_COOKIE, ""), httponly=True,
        samesite="lax", secure=is_tls(request), path="/",
    )  # fmt: skip


def csrf_token(request: Request) -> str:
    """This browser's CSRF token. Logged in: a keyed digest of its login session (a
    token planted from a sibling site cannot match it, and it changes at every login).
    Before login: a random token in its own cookie (the page sets it)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        return web_context(request).auth.signer.mac(f"csrf:{session_id}")
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return str(token)


def remember_csrf(request: Request, response: Response) -> None:
    """Set the pre-login CSRF cookie when this request made a new token."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_tls(request),
            path="/",
        )  # fmt: skip


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token is not this browser's."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        expected = web_context(request).auth.signer.mac(f"csrf:{session_id}")
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden("the form expired or did not come from this panel; reload the page")


def current_user(request: Request) -> Principal:
    """The logged-in principal, or LoginRequired (a redirect to /login)."""
    ctx = web_context(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if not session_id:
        raise LoginRequired("log in first")
    try:
        with session_scope(ctx.sessions) as db:
            principal = ctx.auth.session_principal(db, session_id)
    except NotAuthenticated as exc:
        raise LoginRequired(exc.message) from None
    request.state.audit_actor = principal.actor
    return principal


def staff_user(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    if principal.role not in ("admin", "reseller"):
        raise Forbidden("this page is for admins and resellers")
    return principal


def account_user(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    if principal.role != "user":
        raise Forbidden("this page is for hosting accounts; an admin can use login-as")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
StaffUser = Annotated[Principal, Depends(staff_user)]
AccountUser = Annotated[Principal, Depends(account_user)]
Csrf = Depends(check_csrf)
