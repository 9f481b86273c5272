"""`/api/user/databases`: the logged-in account's MariaDB databases and DB users.

The username comes from the token; the agent validates again, enforces max_databases /
max_db_users under the account's lock and reaches MariaDB itself (this process never
talks to the DB server). Names may be given with or without the `<username>_` prefix.
Passwords go to the agent once and come back in no answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ...auth.sessions import Principal
from ..context import ApiContext
from ..deps import Ctx, HostingAccount
from ..schemas import error_responses

router = APIRouter(prefix="/api/user/databases", tags=["account: databases"])

NamePath = Annotated[
    str, Path(min_length=1, max_length=96, description="with or without the <username>_ prefix")
]
PasswordField = Annotated[
    str, Field(min_length=12, max_length=128, description="12+ characters, not weak")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "shop", "password": "k3e-Lp9!vQz2-wR"}]},
    )

    name: str = Field(min_length=1, max_length=96, description="created as <username>_<name>")
    password: PasswordField


class PasswordIn(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "k3e-Lp9!vQz2-wR"}]}
    )

    password: PasswordField


class DbUserIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "reader", "password": "k3e-Lp9!vQz2-wR", "databases": ["shop"]}]
        },
    )

    name: str = Field(min_length=1, max_length=96)
    password: PasswordField
    databases: list[str] = Field([], max_length=100)


class GrantIn(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"database": "joko_shop", "revoke": False}]}
    )

    database: str = Field(min_length=1, max_length=96)
    revoke: bool = False


class DatabaseOut(BaseModel):
    name: str
    exists: bool = Field(description="false when the server lost it (reconcile recreates it)")
    tables: int
    size_bytes: int
    users: list[str]


class DbUserOut(BaseModel):
    name: str
    databases: list[str]
    exists: bool
    locked: bool | None


class DatabasesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "databases": [
                        {
                            "name": "joko_shop",
                            "exists": True,
                            "tables": 12,
                            "size_bytes": 1589248,
                            "users": ["joko_shop"],
                        }
                    ],
                    "users": [
                        {
                            "name": "joko_shop",
                            "databases": ["joko_shop"],
                            "exists": True,
                            "locked": False,
                        }
                    ],
                    "max_databases": 5,
                    "max_db_users": 5,
                    "server_reachable": True,
                }
            ]
        }
    )

    databases: list[DatabaseOut]
    users: list[DbUserOut]
    max_databases: int = Field(description="0 = unlimited")
    max_db_users: int = Field(description="0 = unlimited")
    server_reachable: bool


class CreatedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "joko_shop", "user": "joko_shop"}]}
    )

    name: str
    user: str


class DbUserCreatedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "joko_reader", "databases": ["joko_shop"]}]}
    )

    name: str
    databases: list[str]


def _op(
    ctx: ApiContext, principal: Principal, request: Request, op: str, payload: dict[str, Any]
) -> Any:
    request.state.audit_target = principal.username
    return ctx.accounts.account_op(principal, op, payload)


@router.get(
    "",
    name="user.databases.list",
    summary="This account's databases (with sizes) and DB users",
    responses=error_responses(401, 403, 503),
)
def list_databases(principal: HostingAccount, ctx: Ctx) -> DatabasesOut:
    data = ctx.agent.execute("db_list", {"username": principal.username}, actor=principal.actor)
    return DatabasesOut.model_validate(data.data)


@router.post(
    "",
    name="user.databases.create",
    status_code=201,
    summary="Create database <username>_<name> and its DB user of the same name",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_database(
    body: DatabaseIn, principal: HostingAccount, ctx: Ctx, request: Request
) -> CreatedOut:
    """The DB user gets ALL PRIVILEGES on that database only. 409 when max_databases or
    max_db_users is reached (the detail names the limit); 422 for a weak password."""
    data = _op(ctx, principal, request, "db_create", body.model_dump())
    return CreatedOut.model_validate(data)


@router.delete(
    "/{name}",
    name="user.databases.delete",
    status_code=204,
    summary="Drop a database (and its own DB user)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def delete_database(
    name: NamePath, principal: HostingAccount, ctx: Ctx, request: Request
) -> Response:
    _op(ctx, principal, request, "db_delete", {"name": name})
    return Response(status_code=204)


@router.post(
    "/{name}/password",
    name="user.databases.password",
    status_code=204,
    summary="Set a new password for the database's DB user",
    responses=error_responses(401, 403, 404, 422, 503),
)
def set_database_password(
    name: NamePath, body: PasswordIn, principal: HostingAccount, ctx: Ctx, request: Request
) -> Response:
    _op(ctx, principal, request, "db_password_set", {"name": name, "password": body.password})
    return Response(status_code=204)


@router.post(
    "/users",
    name="user.databases.users.create",
    status_code=201,
    summary="Create an extra DB user (within max_db_users)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def create_db_user(
    body: DbUserIn, principal: HostingAccount, ctx: Ctx, request: Request
) -> DbUserCreatedOut:
    data = _op(ctx, principal, request, "db_user_create", body.model_dump())
    return DbUserCreatedOut.model_validate(data)


@router.delete(
    "/users/{name}",
    name="user.databases.users.delete",
    status_code=204,
    summary="Drop a DB user",
    responses=error_responses(401, 403, 404, 422, 503),
)
def delete_db_user(
    name: NamePath, principal: HostingAccount, ctx: Ctx, request: Request
) -> Response:
    _op(ctx, principal, request, "db_user_delete", {"name": name})
    return Response(status_code=204)


@router.post(
    "/users/{name}/grant",
    name="user.databases.users.grant",
    summary="Grant a DB user ALL on one of this account's databases (or revoke it)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def grant_db_user(
    name: NamePath, body: GrantIn, principal: HostingAccount, ctx: Ctx, request: Request
) -> DbUserCreatedOut:
    data = _op(ctx, principal, request, "db_user_grant", {"name": name, **body.model_dump()})
    return DbUserCreatedOut.model_validate(data)


@router.post(
    "/users/{name}/password",
    name="user.databases.users.password",
    status_code=204,
    summary="Set a new password for a DB user",
    responses=error_responses(401, 403, 404, 422, 503),
)
def set_db_user_password(
    name: NamePath, body: PasswordIn, principal: HostingAccount, ctx: Ctx, request: Request
) -> Response:
    _op(ctx, principal, request, "db_password_set", {"name": name, "password": body.password})
    return Response(status_code=204)
