"""`/api/admin/packages`: hosting plans. Resellers may read them; only admins change them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..deps import Admin, Ctx, Staff
from ..schemas import PackageCreate, PackageOut, PackageUpdate, error_responses

router = APIRouter(prefix="/api/admin/packages", tags=["admin: packages"])


def _out(data: dict[str, Any]) -> PackageOut:
    return PackageOut.model_validate({k: v for k, v in data.items() if k != "schema_version"})


@router.get(
    "", name="packages.list", summary="List packages", responses=error_responses(401, 403, 503)
)
def list_packages(principal: Staff, ctx: Ctx) -> list[PackageOut]:
    return [_out(p) for p in ctx.agent.execute("package_list", {}, actor=principal.actor).data]


@router.post(
    "",
    name="packages.create",
    status_code=201,
    summary="Create a package",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_package(
    body: PackageCreate, principal: Admin, ctx: Ctx, response: Response
) -> PackageOut:
    values = body.model_dump(exclude_none=True, exclude={"name"})
    data = ctx.agent.execute(
        "package_create", {"name": body.name, "values": values}, actor=principal.actor
    ).data
    response.headers["Location"] = f"/api/admin/packages/{body.name}"
    return _out(data)


@router.get(
    "/{name}",
    name="packages.get",
    summary="One package",
    responses=error_responses(401, 403, 404, 422, 503),
)
def get_package(name: str, principal: Staff, ctx: Ctx) -> PackageOut:
    return _out(ctx.agent.execute("package_get", {"name": name}, actor=principal.actor).data)


@router.put(
    "/{name}",
    name="packages.update",
    summary="Change a package",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def update_package(
    name: str,
    body: PackageUpdate,
    principal: Admin,
    ctx: Ctx,
    force: Annotated[bool, Query(description="same as force in the body")] = False,
) -> PackageOut:
    """Every account on the package gets the new limits through its normal change (a
    revision each); a field set differently for one account keeps that value. Refused
    with 409 naming the counts when a new limit is below an account's usage, unless
    forced."""
    values = body.model_dump(exclude_none=True, exclude={"force"})
    payload = {"name": name, "values": values, "force": force or bool(body.force)}
    return _out(ctx.agent.execute("package_update", payload, actor=principal.actor).data)


@router.delete(
    "/{name}",
    name="packages.delete",
    status_code=204,
    summary="Delete a package no account uses",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def delete_package(name: str, principal: Admin, ctx: Ctx) -> Response:
    ctx.agent.execute("package_delete", {"name": name}, actor=principal.actor)
    return Response(status_code=204)
