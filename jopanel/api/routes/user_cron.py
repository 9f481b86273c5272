"""`/api/user/cron`: the logged-in account's cron jobs.

The body is checked here with the same rules as in the agent (jopanel/cronspec.py): five
typed schedule fields or a shortcut (`@reboot` refused), a one-line command with no
environment assignment; `%` is fine (escaped when the crontab is written). The agent
checks again, enforces `max_cron_jobs` (409) and writes the crontab.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ... import cronspec
from ..deps import Ctx, HostingAccount
from ..schemas import error_responses

router = APIRouter(prefix="/api/user", tags=["account: cron"])

FieldIn = Annotated[str | None, Field(None, max_length=cronspec.MAX_FIELD_CHARS)]


class CronJobIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"minute": "*/15", "hour": "*", "command": "php ~/public_html/cron.php"},
                {"shortcut": "@daily", "command": "tar czf ~/backup.tgz ~/public_html"},
            ]
        },
    )

    minute: FieldIn = None
    hour: FieldIn = None
    day_of_month: FieldIn = None
    month: FieldIn = None
    day_of_week: FieldIn = None
    shortcut: str | None = Field(
        None, max_length=16, description="@hourly, @daily, @weekly, @monthly or @yearly"
    )
    command: str = Field(max_length=cronspec.MAX_COMMAND_CHARS * 4)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        return cronspec.check_command(value)

    @model_validator(mode="after")
    def _schedule(self) -> CronJobIn:
        fields = [self.minute, self.hour, self.day_of_month, self.month, self.day_of_week]
        if self.shortcut is not None:
            if any(f is not None for f in fields):
                raise ValueError("give a shortcut or the five fields, not both")
            cronspec.check_shortcut(self.shortcut)
        else:
            cronspec.schedule_of(["*" if f is None else f for f in fields])
        return self


class CronEnabledIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    enabled: bool


class CronJobOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "3f9a0c1b2d4e", "schedule": "*/15 * * * *", "command": "php x"}]
        }
    )

    id: str
    schedule: str
    command: str = Field(description="as the shell runs it (% not escaped)")


class CronOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "enabled": True,
                    "active": True,
                    "limit": 5,
                    "jobs": [
                        {"id": "3f9a0c1b2d4e", "schedule": "@daily", "command": "php cron.php"}
                    ],
                }
            ]
        }
    )

    enabled: bool
    active: bool = Field(description="enabled and the account not suspended")
    limit: int = Field(description="max_cron_jobs (0: unlimited)")
    jobs: list[CronJobOut]


@router.get(
    "/cron",
    name="user.cron.list",
    summary="This account's cron jobs",
    responses=error_responses(401, 403, 503),
)
def list_cron(principal: HostingAccount, ctx: Ctx) -> CronOut:
    data = ctx.agent.execute("cron_list", {"username": principal.username}, actor=principal.actor)
    return CronOut.model_validate(data.data)


@router.post(
    "/cron",
    name="user.cron.add",
    status_code=201,
    summary="Add a cron job",
    responses=error_responses(401, 403, 409, 422, 503),
)
def add_cron(body: CronJobIn, principal: HostingAccount, ctx: Ctx, request: Request) -> CronJobOut:
    """409 when `max_cron_jobs` is reached."""
    request.state.audit_target = principal.username
    payload: dict[str, Any] = body.model_dump(exclude_none=True)
    return CronJobOut.model_validate(ctx.accounts.account_op(principal, "cron_add", payload))


@router.delete(
    "/cron/{name}",
    name="user.cron.remove",
    status_code=204,
    summary="Remove the cron job with this id",
    responses=error_responses(401, 403, 404, 422, 503),
)
def remove_cron(
    name: Annotated[str, Path(max_length=32, description="the job's id")],
    principal: HostingAccount,
    ctx: Ctx,
    request: Request,
) -> Response:
    request.state.audit_target = principal.username
    ctx.accounts.account_op(principal, "cron_remove", {"id": name})
    return Response(status_code=204)


@router.put(
    "/cron",
    name="user.cron.enable",
    summary="Turn the account's cron on or off (off: no crontab, the jobs are kept)",
    responses=error_responses(401, 403, 422, 503),
)
def set_cron(body: CronEnabledIn, principal: HostingAccount, ctx: Ctx, request: Request) -> CronOut:
    request.state.audit_target = principal.username
    ctx.accounts.account_op(principal, "cron_set_enabled", {"enabled": body.enabled})
    data = ctx.agent.execute("cron_list", {"username": principal.username}, actor=principal.actor)
    return CronOut.model_validate(data.data)
