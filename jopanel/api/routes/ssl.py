"""Certificates: `/api/user/ssl` (the logged-in account's own sites) and
`/api/admin/users/{username}/ssl`, `/api/admin/ssl/renew` (staff; renew: admins).

`{name}` is a site: the primary domain (its www name and aliases ride on its
certificate), an addon domain or a subdomain. Keys go in (upload) and never come out:
no answer holds one. Every change goes through the agent's ssl ops.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ...system.certcheck import MAX_PEM_BYTES
from ..deps import Admin, Ctx, HostingAccount, Staff
from ..schemas import error_responses

router = APIRouter(tags=["certificates"])

SiteName = Path(min_length=1, max_length=253, description="a site: primary, addon or subdomain")
UserName = Path(min_length=1, max_length=32)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


_CERT = "-----BEGIN CERTIFICATE-----\nMIIFBTCCA+2gAwIBAgISA0Q2...\n-----END CERTIFICATE-----\n"
_KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG...\n-----END PRIVATE KEY-----\n"
_CHAIN = "-----BEGIN CERTIFICATE-----\nMIIFFjCCAv6gAwIBAgIRAJEr...\n-----END CERTIFICATE-----\n"


def _in_example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class OptionsIn(_In):
    model_config = _in_example({"redirect": True, "hsts": False})

    redirect: bool | None = Field(None, description="HTTP -> HTTPS (301) once served")
    hsts: bool | None = Field(None, description="Strict-Transport-Security on HTTPS")


class IssueIn(OptionsIn):
    model_config = _in_example({"redirect": True})


class AdminIssueIn(OptionsIn):
    model_config = _in_example({"redirect": True, "force": False})

    force: bool = Field(False, description="order before next_try (after failures)")


class UploadIn(OptionsIn):
    model_config = _in_example(
        {"certificate": _CERT, "key": _KEY, "chain": _CHAIN, "redirect": True, "hsts": True}
    )

    certificate: str = Field(min_length=1, max_length=MAX_PEM_BYTES, description="PEM")
    key: str = Field(min_length=1, max_length=MAX_PEM_BYTES, description="PEM, unencrypted")
    chain: str | None = Field(None, max_length=MAX_PEM_BYTES, description="PEM intermediates")


class SslOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "joko",
                    "domain": "example.org",
                    "names": ["example.org", "www.example.org"],
                    "mode": "acme",
                    "status": "active",
                    "serving": True,
                    "issuer": "Let's Encrypt, R11",
                    "not_after": "2027-02-26T21:14:03Z",
                    "days_left": 89,
                    "redirect": True,
                    "hsts": False,
                    "last_error": None,
                    "failures": 0,
                    "next_try": None,
                }
            ]
        }
    )

    username: str
    domain: str
    names: list[str] = Field(description="every name the certificate covers for this site")
    mode: Literal["acme", "custom", "off"]
    status: Literal["none", "active", "failed"]
    serving: bool = Field(description="nginx serves HTTPS for it now")
    issuer: str | None
    not_after: str | None
    days_left: int | None
    redirect: bool
    hsts: bool
    last_error: str | None
    failures: int
    next_try: str | None


class RenewIn(_In):
    model_config = _in_example({"within_days": 30, "force": False})

    within_days: int = Field(30, ge=1, le=3650)
    force: bool = False


class RenewRow(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "joko",
                    "domain": "example.org",
                    "result": "renewed",
                    "detail": "expires 2026-12-20",
                }
            ]
        }
    )

    username: str
    domain: str
    result: Literal["not_due", "renewed", "failed", "waiting", "planned"]
    detail: str


def _rows(data: Any) -> list[SslOut]:
    return [SslOut.model_validate(r) for r in data]


# --- the account's own sites ------------------------------------------------------------------
@router.get(
    "/api/user/ssl",
    name="user.ssl.list",
    summary="Certificates of this account's sites",
    responses=error_responses(401, 403, 503),
)
def user_list(principal: HostingAccount, ctx: Ctx) -> list[SslOut]:
    result = ctx.agent.execute(
        "ssl_status", {"username": principal.username}, actor=principal.actor
    )
    return _rows(result.data)


@router.post(
    "/api/user/ssl/{name}/issue",
    name="user.ssl.issue",
    summary="Get a certificate from the ACME CA (Let's Encrypt) for a site",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def user_issue(
    body: IssueIn, principal: HostingAccount, ctx: Ctx, request: Request, name: str = SiteName
) -> SslOut:
    """409 when the order fails (the reason; a certificate in service stays) or when an
    earlier failure's backoff (`next_try`) has not passed."""
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "ssl_issue", {"domain": name, **body.model_dump()})
    return SslOut.model_validate(data)


@router.put(
    "/api/user/ssl/{name}/certificate",
    name="user.ssl.upload",
    summary="Serve an uploaded certificate, chain and key for a site",
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
)
def user_upload(
    body: UploadIn, principal: HostingAccount, ctx: Ctx, request: Request, name: str = SiteName
) -> SslOut:
    """422 with the reason: key mismatch, broken chain, names not covered, expired or
    expiring within a day, weak key. 413 when the body is over the API's size limit (three
    PEMs at their longest, JSON-escaped, can be)."""
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "ssl_upload", {"domain": name, **body.model_dump()})
    return SslOut.model_validate(data)


@router.patch(
    "/api/user/ssl/{name}",
    name="user.ssl.options",
    summary="Turn a site's HTTP -> HTTPS redirect or HSTS on or off",
    responses=error_responses(401, 403, 404, 422, 503),
)
def user_options(
    body: OptionsIn, principal: HostingAccount, ctx: Ctx, request: Request, name: str = SiteName
) -> SslOut:
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "ssl_options", {"domain": name, **body.model_dump()})
    return SslOut.model_validate(data)


@router.delete(
    "/api/user/ssl/{name}",
    name="user.ssl.off",
    summary="HTTP only again: the certificate is revoked (ACME) and removed",
    responses=error_responses(401, 403, 404, 422, 503),
)
def user_off(principal: HostingAccount, ctx: Ctx, request: Request, name: str = SiteName) -> SslOut:
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "ssl_off", {"domain": name})
    return SslOut.model_validate(data)


# --- staff ---------------------------------------------------------------------------------
@router.get(
    "/api/admin/users/{username}/ssl",
    name="admin.ssl.list",
    summary="Certificates of an account's sites",
    responses=error_responses(401, 403, 404, 503),
)
def admin_list(principal: Staff, ctx: Ctx, username: str = UserName) -> list[SslOut]:
    ctx.accounts.visible(principal, username)
    result = ctx.agent.execute("ssl_status", {"username": username}, actor=principal.actor)
    return _rows(result.data)


@router.post(
    "/api/admin/users/{username}/ssl/{name}/issue",
    name="admin.ssl.issue",
    summary="Get a certificate from the ACME CA for an account's site",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def admin_issue(
    body: AdminIssueIn,
    principal: Staff,
    ctx: Ctx,
    request: Request,
    username: str = UserName,
    name: str = SiteName,
) -> SslOut:
    request.state.audit_target = username
    payload = {"username": username, "domain": name, **body.model_dump()}
    return SslOut.model_validate(ctx.accounts.change(principal, "ssl_issue", payload).data)


@router.put(
    "/api/admin/users/{username}/ssl/{name}/certificate",
    name="admin.ssl.upload",
    summary="Serve an uploaded certificate for an account's site",
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
)
def admin_upload(
    body: UploadIn,
    principal: Staff,
    ctx: Ctx,
    request: Request,
    username: str = UserName,
    name: str = SiteName,
) -> SslOut:
    request.state.audit_target = username
    payload = {"username": username, "domain": name, **body.model_dump()}
    return SslOut.model_validate(ctx.accounts.change(principal, "ssl_upload", payload).data)


@router.delete(
    "/api/admin/users/{username}/ssl/{name}",
    name="admin.ssl.off",
    summary="HTTP only again for an account's site",
    responses=error_responses(401, 403, 404, 422, 503),
)
def admin_off(
    principal: Staff, ctx: Ctx, request: Request, username: str = UserName, name: str = SiteName
) -> SslOut:
    request.state.audit_target = username
    payload = {"username": username, "domain": name}
    return SslOut.model_validate(ctx.accounts.change(principal, "ssl_off", payload).data)


@router.post(
    "/api/admin/ssl/renew",
    name="admin.ssl.renew",
    summary="Renew every ACME certificate due within `within_days` (idempotent)",
    responses=error_responses(401, 403, 422, 503),
)
def admin_renew(body: RenewIn, principal: Admin, ctx: Ctx) -> list[RenewRow]:
    result = ctx.agent.execute("ssl_renew", body.model_dump(), actor=principal.actor)
    return [RenewRow.model_validate(r) for r in result.data]
