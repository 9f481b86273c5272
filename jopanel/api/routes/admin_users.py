"""`/api/admin/users`: hosting accounts for admins and resellers (resellers see their own)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from ...auth.sessions import Identity
from ...db.session import session_scope
from ...errors import Forbidden, StaleRevision
from ...schemas.summary import AccountSummary
from ..deps import ClientIp, Ctx, Staff
from ..errors import PreconditionRequired
from ..schemas import (
    AccountDetail,
    PasswordIn,
    Status,
    TokenOut,
    UserCreate,
    UserPage,
    UserSummary,
    UserUpdate,
    error_responses,
)
from .auth import token_out

router = APIRouter(prefix="/api/admin/users", tags=["admin: accounts"])


def etag(revision: str) -> str:
    return f'"{revision}"'


def expected_revision(if_match: str) -> str | None:
    """The revision an If-Match names (`*` means any); 412 if it cannot be current."""
    value = if_match.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if (
        not value.startswith("sha256:")
        or len(value) != 71
        or not all(c in "0123456789abcdef" for c in value[7:])
    ):
        raise StaleRevision("If-Match does not name a current revision", field="If-Match")
    return value


def detail_response(view: dict[str, Any], response: Response) -> AccountDetail:
    response.headers["ETag"] = etag(view["revision"])
    return AccountDetail.model_validate(view)


@router.get(
    "",
    name="users.list",
    response_model=UserPage,
    summary="List and search accounts (from the index)",
    responses=error_responses(401, 403, 422, 503),
)
def list_users(
    principal: Staff,
    ctx: Ctx,
    search: Annotated[
        str | None, Query(max_length=100, description="part of the username, email or domain")
    ] = None,
    status: Status | None = None,
    package: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    rows, total = ctx.accounts.search(
        principal, search=search, status=status, package=package, page=page, per_page=per_page
    )
    page_out = UserPage(
        items=[UserSummary.model_validate(r._mapping) for r in rows],
        total=total,
        page=page,
        per_page=per_page,
    )
    # Serialised once here; returning the model would have FastAPI validate it again.
    return Response(page_out.model_dump_json(), media_type="application/json")


@router.post(
    "",
    name="users.create",
    status_code=201,
    summary="Create a hosting account",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_user(
    body: UserCreate, principal: Staff, ctx: Ctx, request: Request, response: Response
) -> AccountDetail:
    """Config files, Linux user, home, services, panel login and index entry, or nothing.
    The owner is the creating admin or reseller (an admin may name a reseller)."""
    request.state.audit_target = body.username
    request.state.audit_detail = (
        f"domain {body.primary_domain}, package {body.package or 'default'}"
    )
    view = ctx.accounts.create(principal, **body.model_dump())
    response.headers["Location"] = f"/api/admin/users/{body.username}"
    return detail_response(view, response)


@router.get(
    "/{username}",
    name="users.get",
    summary="An account's six files, read from disk",
    responses=error_responses(401, 403, 404, 503),
)
def get_user(username: str, principal: Staff, ctx: Ctx, response: Response) -> AccountDetail:
    """The `ETag` header carries the revision to send back as `If-Match` when updating."""
    return detail_response(ctx.accounts.visible(principal, username), response)


@router.put(
    "/{username}",
    name="users.update",
    summary="Change some fields of an account",
    responses=error_responses(401, 403, 404, 409, 412, 422, 428, 503),
)
def update_user(
    username: str,
    body: UserUpdate,
    principal: Staff,
    ctx: Ctx,
    request: Request,
    response: Response,
    if_match: Annotated[
        str | None, Header(description="the ETag of the revision this change is based on")
    ] = None,
    force: Annotated[bool, Query(description="same as force in the body")] = False,
) -> AccountDetail:
    """Refused with 412 when the account changed since the ETag was read, and with 409
    naming the counts when new limits (or a new package) are below current usage, unless
    forced."""
    changed = body.model_dump(exclude_none=True, exclude={"force"})
    request.state.audit_detail = "fields " + ", ".join(
        f"{part}.{name}" for part, values in changed.items() for name in values
    )
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag from GET", field="If-Match")
    if force or body.force:
        changed["force"] = True
    view = ctx.accounts.update(principal, username, changed, expected_revision(if_match))
    return detail_response(view, response)


@router.delete(
    "/{username}",
    name="users.delete",
    status_code=204,
    summary="Terminate an account",
    responses=error_responses(401, 403, 404, 503),
)
def delete_user(username: str, principal: Staff, ctx: Ctx) -> Response:
    """Removes services, the Linux user and home; the config is archived."""
    ctx.accounts.delete(principal, username)
    return Response(status_code=204)


@router.post(
    "/{username}/suspend",
    name="users.suspend",
    summary="Suspend an account",
    responses=error_responses(401, 403, 404, 503),
)
def suspend_user(username: str, principal: Staff, ctx: Ctx, response: Response) -> AccountDetail:
    """Locks the password and shell, serves a suspended page, ends panel sessions."""
    return detail_response(ctx.accounts.set_status(principal, username, suspend=True), response)


@router.post(
    "/{username}/unsuspend",
    name="users.unsuspend",
    summary="Lift a suspension",
    responses=error_responses(401, 403, 404, 503),
)
def unsuspend_user(username: str, principal: Staff, ctx: Ctx, response: Response) -> AccountDetail:
    return detail_response(ctx.accounts.set_status(principal, username, suspend=False), response)


@router.post(
    "/{username}/reset-password",
    name="users.reset_password",
    status_code=204,
    summary="Set a new password (Linux account and panel login)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def reset_password(username: str, body: PasswordIn, principal: Staff, ctx: Ctx) -> Response:
    ctx.accounts.reset_password(principal, username, body.password)
    return Response(status_code=204)


@router.post(
    "/{username}/login-as",
    name="users.login_as",
    summary="Log in as this account",
    responses=error_responses(401, 403, 404, 503),
)
def login_as(username: str, principal: Staff, ctx: Ctx, ip: ClientIp, request: Request) -> TokenOut:
    """Tokens for the account's panel; the session and the audit log name both people."""
    if principal.impersonator:
        raise Forbidden("already logged in as someone else")
    view = ctx.accounts.visible(principal, username)
    ctx.accounts.guard_staff_account(principal, username, "log in as")
    account = view["account"]
    if account["status"] != "active":
        raise Forbidden("this account is suspended", field="username")
    request.state.audit_detail = f"{principal.actor} logged in as {username}"
    identity = Identity(account["uid"], AccountSummary.of_view(view).created_at)
    with session_scope(ctx.sessions) as db:
        pair = ctx.auth.login_as(db, principal, account["username"], identity, ip)
    return token_out(pair)
