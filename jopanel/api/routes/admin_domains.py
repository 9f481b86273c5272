"""`/api/admin/reserved-domains`: the hosting provider's own domains.

No account may claim a reserved name or any name below it (the agent refuses it with
409 on every path that adds a hostname). Only an admin reads or changes the list.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Admin, Ctx
from ..schemas import error_responses

router = APIRouter(prefix="/api/admin/reserved-domains", tags=["admin: system"])


class ReservedDomainsIo(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"domains": ["example-hosting.com", "panel.example.net"]}]},
    )

    domains: list[str] = Field(max_length=1000, description="hostnames, each with its subtree")


@router.get(
    "",
    name="reserved_domains.get",
    summary="The provider's reserved domains",
    responses=error_responses(401, 403, 503),
)
def get_reserved(principal: Admin, ctx: Ctx) -> ReservedDomainsIo:
    data = ctx.agent.execute("reserved_domains_list", {}, actor=principal.actor).data
    return ReservedDomainsIo.model_validate(data)


@router.put(
    "",
    name="reserved_domains.set",
    summary="Replace the provider's reserved domains",
    responses=error_responses(401, 403, 409, 422, 503),
)
def set_reserved(body: ReservedDomainsIo, principal: Admin, ctx: Ctx) -> ReservedDomainsIo:
    """Refused with 409 naming the accounts when one already holds a name being reserved
    (or a name below it); 422 for a name that is not a hostname. Nothing is written then."""
    data = ctx.agent.execute(
        "reserved_domains_set", {"domains": body.domains}, actor=principal.actor
    ).data
    return ReservedDomainsIo.model_validate(data)
