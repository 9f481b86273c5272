"""`/login`, `/logout` and `/`: the browser's login on the API's login sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...db.session import session_scope
from ...errors import Forbidden, NotAuthenticated, Throttled
from ..context import web_context
from ..render import note_refusal, page, redirect
from ..session import (
    SESSION_COOKIE,
    STAFF_COOKIE,
    Csrf,
    clear_session_cookie,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def home_of(role: str) -> str:
    return "/panel" if role == "user" else "/admin"


@router.get("/")
def root(request: Request) -> RedirectResponse:
    return redirect("/admin" if request.cookies.get(SESSION_COOKIE) else "/login")


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html", username="", error=None)


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """The API's login (same throttle, same failure floor); the cookie names the session."""
    ctx = web_context(request)
    request.state.audit_actor = username[:64]
    request.state.audit_target = username[:64]
    ip = getattr(request.state, "client_ip", None) or "unknown"
    try:
        with session_scope(ctx.sessions) as db:
            pair = ctx.auth.login(db, username, password, ip)
    except Throttled as exc:
        # The API's answer (429 + Retry-After); the page counts the wait down and keeps
        # its button off until then, so the browser does not post into the throttle.
        note_refusal(request, exc)
        refused = page(
            request, "login.html", status_code=429, username=username,
            error=exc.message, retry_after=exc.retry_after,
        )  # fmt: skip
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    except (NotAuthenticated, Forbidden) as exc:
        # The form again, with the reason next to it (a page, not an API error status).
        note_refusal(request, exc)
        return page(request, "login.html", username=username, error=exc.message)
    response = redirect(home_of(pair.role))
    set_session_cookie(response, request, pair.session_id)
    response.delete_cookie(STAFF_COOKIE, path="/")  # no login-as survives a new login
    return response


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    ctx = web_context(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    principal = None
    if session_id:
        with session_scope(ctx.sessions) as db:
            try:
                principal = ctx.auth.session_principal(db, session_id)
            except NotAuthenticated:
                principal = None
            if principal is not None:
                request.state.audit_actor = principal.actor
                ctx.auth.logout(db, principal)
    staff_session = request.cookies.get(STAFF_COOKIE, "")
    if staff_session and principal is not None and principal.impersonator:
        # The end of a login-as: back to the staff login that opened it, if it is still
        # live and is who opened it.
        with session_scope(ctx.sessions) as db:
            try:
                staff = ctx.auth.session_principal(db, staff_session)
            except NotAuthenticated:
                staff = None
        if staff is not None and staff.actor == principal.impersonator:
            response = redirect("/admin/users")
            set_session_cookie(response, request, staff_session)
            response.delete_cookie(STAFF_COOKIE, path="/")
            return response
    response = redirect("/login")
    clear_session_cookie(response)
    return response
