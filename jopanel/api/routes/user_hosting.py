"""`/api/user/domains`, `/api/user/ssh-keys`, `/api/user/php`: an account's own hosting.

Every route acts on the logged-in account only (the username comes from the token, never
from the request), through the agent's domain, SSH key and PHP ops, which validate again,
enforce limits under the account's lock and check generated files with the real binaries.
The account index notices these changes by itself (IndexFreshness): none of its columns
change, only the revision. Path parameters are called `name` like the other routes'.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Ctx, HostingAccount
from ..schemas import error_responses

router = APIRouter(prefix="/api/user", tags=["account: hosting"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DomainIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"domain": "shop.example.org", "type": "addon"}]},
    )

    domain: str = Field(min_length=1, max_length=253, examples=["shop.example.org"])
    type: Literal["addon", "subdomain", "alias"] = "addon"
    parent: str | None = Field(
        None, max_length=253, description="a subdomain's domain, when `domain` is only a label"
    )


class DomainOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "domain": "shop.example.org",
                    "type": "addon",
                    "parent": None,
                    "docroot": "domains/shop.example.org/public_html",
                    "document_root": "/home/joko/domains/shop.example.org/public_html",
                }
            ]
        }
    )

    domain: str
    type: Literal["primary", "addon", "subdomain", "alias"]
    parent: str | None
    docroot: str = Field(description="relative to the home")
    document_root: str
    www: str | None = Field(
        None, description="the www. alias this domain also answers on (primary/addon only)"
    )


class DomainWwwIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"www": False}]})

    www: bool = Field(description="whether www.<domain> answers too")


class SshKeyIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... joko@laptop"}]
        },
    )

    key: str = Field(min_length=1, max_length=16384, description="one OpenSSH public key line")


class SshKeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fingerprint": "SHA256:qlsoLNzk9ooeop9IeIf+0+/eK/MhefhC8sbeRkj/5fg",
                    "type": "ssh-ed25519",
                    "comment": "joko@laptop",
                    "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... joko@laptop",
                }
            ]
        }
    )

    fingerprint: str = Field(examples=["SHA256:qlsoLNzk9ooeop9IeIf+0+/eK/MhefhC8sbeRkj/5fg"])
    type: str
    comment: str
    key: str


class PhpSettingsIn(_In):
    """The allow-list of PHP settings (sizes in MB); only those given change."""

    memory_limit_mb: int | None = Field(
        None, ge=32, le=8192, description="at most limits.json memory_limit_mb"
    )
    max_execution_time: int | None = Field(None, ge=1, le=600, description="seconds")
    upload_max_filesize_mb: int | None = Field(None, ge=1, le=1024)
    post_max_size_mb: int | None = Field(None, ge=1, le=1024)
    max_input_vars: int | None = Field(None, ge=100, le=100000)
    display_errors: bool | None = None


class PhpIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"version": "8.2"},
                {"settings": {"memory_limit_mb": 256, "max_execution_time": 120}},
            ]
        },
    )

    version: str | None = Field(None, pattern=r"^[5-9]\.[0-9]{1,2}$", examples=["8.2"])
    settings: PhpSettingsIn | None = None


class PhpSettingsOut(BaseModel):
    memory_limit_mb: int
    max_execution_time: int
    upload_max_filesize_mb: int
    post_max_size_mb: int
    max_input_vars: int
    display_errors: bool


class PhpOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "8.2",
                    "installed": ["8.2"],
                    "enabled": True,
                    "settings": {
                        "memory_limit_mb": 256,
                        "max_execution_time": 60,
                        "upload_max_filesize_mb": 64,
                        "post_max_size_mb": 64,
                        "max_input_vars": 1000,
                        "display_errors": False,
                    },
                    "memory_limit_cap_mb": 1024,
                    "effective_memory_limit_mb": 256,
                }
            ]
        }
    )

    version: str
    installed: list[str]
    enabled: bool
    settings: PhpSettingsOut
    memory_limit_cap_mb: int = Field(description="limits.json memory_limit_mb (0: no cap)")
    effective_memory_limit_mb: int = Field(description="what the pool gets")


@router.get(
    "/domains",
    name="user.domains.list",
    summary="This account's domains with their document roots",
    responses=error_responses(401, 403, 503),
)
def list_domains(principal: HostingAccount, ctx: Ctx) -> list[DomainOut]:
    rows = ctx.agent.execute(
        "domain_list", {"username": principal.username}, actor=principal.actor
    ).data
    return [DomainOut.model_validate(r) for r in rows]


@router.post(
    "/domains",
    name="user.domains.add",
    status_code=201,
    summary="Add an addon domain, a subdomain or an alias",
    responses=error_responses(401, 403, 409, 422, 503),
)
def add_domain(body: DomainIn, principal: HostingAccount, ctx: Ctx, request: Request) -> DomainOut:
    """Limits come from the account's limits.json (409 when reached); a domain another
    account holds, or one under another account's domain, is a 409 too."""
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "domain_add", body.model_dump())
    return DomainOut.model_validate(data)


@router.delete(
    "/domains/{name}",
    name="user.domains.remove",
    status_code=204,
    summary="Remove a domain (its files stay in the home)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def remove_domain(
    name: Annotated[str, Path(max_length=253, description="the domain")],
    principal: HostingAccount,
    ctx: Ctx,
    request: Request,
) -> Response:
    request.state.audit_target = principal.username
    ctx.accounts.account_op(principal, "domain_remove", {"domain": name})
    return Response(status_code=204)


@router.put(
    "/domains/{name}",
    name="user.domains.update",
    summary="Turn the www. alias of the primary or an addon domain on or off",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def update_domain(
    name: Annotated[str, Path(max_length=253, description="the domain")],
    body: DomainWwwIn,
    principal: HostingAccount,
    ctx: Ctx,
    request: Request,
) -> DomainOut:
    """409 when turning it on and another account holds `www.<domain>`."""
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "domain_www_set", {"domain": name, "www": body.www})
    return DomainOut.model_validate(data)


@router.get(
    "/ssh-keys",
    name="user.ssh_keys.list",
    summary="Authorized SSH keys with their SHA256 fingerprints",
    responses=error_responses(401, 403, 503),
)
def list_keys(principal: HostingAccount, ctx: Ctx) -> list[SshKeyOut]:
    rows = ctx.agent.execute(
        "ssh_key_list", {"username": principal.username}, actor=principal.actor
    ).data
    return [SshKeyOut.model_validate(r) for r in rows]


@router.post(
    "/ssh-keys",
    name="user.ssh_keys.add",
    status_code=201,
    summary="Authorize an SSH public key",
    responses=error_responses(401, 403, 409, 422, 503),
)
def add_key(body: SshKeyIn, principal: HostingAccount, ctx: Ctx, request: Request) -> SshKeyOut:
    """Options (`command=…`), DSA and RSA under 2048 bits are refused; `ssh-keygen -l`
    must accept the key and agree on its fingerprint."""
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "ssh_key_add", {"key": body.key})
    return SshKeyOut.model_validate(data)


@router.delete(
    "/ssh-keys/{name:path}",
    name="user.ssh_keys.remove",
    status_code=204,
    summary="Remove the key with this fingerprint",
    responses=error_responses(401, 403, 404, 422, 503),
)
def remove_key(
    name: Annotated[str, Path(max_length=64, description="fingerprint SHA256:… (or URL-safe)")],
    principal: HostingAccount,
    ctx: Ctx,
    request: Request,
) -> Response:
    request.state.audit_target = principal.username
    ctx.accounts.account_op(principal, "ssh_key_remove", {"fingerprint": name})
    return Response(status_code=204)


@router.get(
    "/php",
    name="user.php.show",
    summary="The PHP version and settings of this account",
    responses=error_responses(401, 403, 503),
)
def show_php(principal: HostingAccount, ctx: Ctx) -> PhpOut:
    data = ctx.agent.execute("php_show", {"username": principal.username}, actor=principal.actor)
    return PhpOut.model_validate(data.data)


@router.put(
    "/php",
    name="user.php.set",
    summary="Choose the PHP version among those installed and/or change PHP settings",
    responses=error_responses(401, 403, 422, 503),
)
def set_php(body: PhpIn, principal: HostingAccount, ctx: Ctx, request: Request) -> PhpOut:
    """Settings outside their range, or a memory_limit above limits.json
    `memory_limit_mb`, are 422; the pool is checked with the real php-fpm."""
    request.state.audit_target = principal.username
    data = ctx.accounts.account_op(principal, "php_set", body.model_dump(exclude_none=True))
    return PhpOut.model_validate(data)
