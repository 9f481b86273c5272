"""Cron ops: list, add, remove an account's jobs; turn its cron on or off.

Jobs live in services.json `cron`; every change goes through `change_account`, whose
converge writes (or removes) the crontab under ROOT (agent/cron_state.py). A job comes
from typed fields (five schedule fields, or a shortcut, and a command) checked by
jopanel/cronspec.py; the id is made here. `max_cron_jobs` (0 = unlimited) is checked
under the account's lock, so two concurrent adds cannot both slip under it.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ... import cronspec
from ...errors import Conflict, NotFound
from ...schemas import CronJob, UserConfig
from ...schemas.base import Username
from ..context import Call
from ..registry import OpResult, Payload, op
from ..transaction import change_account

Shortcut = Literal["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"]
FieldText = str | None


class CronRef(Payload):
    username: Username


class CronAdd(Payload):
    username: Username
    minute: FieldText = Field(None, max_length=cronspec.MAX_FIELD_CHARS)
    hour: FieldText = Field(None, max_length=cronspec.MAX_FIELD_CHARS)
    day_of_month: FieldText = Field(None, max_length=cronspec.MAX_FIELD_CHARS)
    month: FieldText = Field(None, max_length=cronspec.MAX_FIELD_CHARS)
    day_of_week: FieldText = Field(None, max_length=cronspec.MAX_FIELD_CHARS)
    shortcut: str | None = Field(None, max_length=16)
    command: str = Field(max_length=cronspec.MAX_COMMAND_CHARS * 4)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        return cronspec.check_command(value)

    @model_validator(mode="after")
    def _schedule(self) -> CronAdd:
        self.schedule_text()
        return self

    def fields(self) -> list[str | None]:
        return [self.minute, self.hour, self.day_of_month, self.month, self.day_of_week]

    def schedule_text(self) -> str:
        if self.shortcut is not None:
            if any(f is not None for f in self.fields()):
                raise ValueError("give a shortcut or the five fields, not both")
            return cronspec.check_shortcut(self.shortcut)
        return cronspec.schedule_of(["*" if f is None else f for f in self.fields()])


class CronRemove(Payload):
    username: Username
    id: str = Field(pattern=r"^[a-z0-9]{1,32}$")


class CronEnabled(Payload):
    username: Username
    enabled: bool


def job_row(job: CronJob) -> dict[str, Any]:
    return {"id": job.id, "schedule": job.schedule, "command": job.command}


def cron_view(config: UserConfig) -> dict[str, Any]:
    cron = config.services.cron
    return {
        "enabled": cron.enabled,
        "active": cron.enabled and config.account.status == "active",
        "limit": config.limits.max_cron_jobs,
        "jobs": [job_row(j) for j in cron.jobs],
    }


def _with_cron(config: UserConfig, **update: Any) -> UserConfig:
    cron = config.services.cron.model_copy(update=update)
    return config.with_(services=config.services.model_copy(update={"cron": cron}))


@op("cron_list", CronRef, reads_only=True)
def cron_list(call: Call, p: CronRef) -> OpResult:
    return OpResult(changed=False, data=cron_view(call.ctx.store.read(p.username)))


@op("cron_add", CronAdd)
def cron_add(call: Call, p: CronAdd) -> OpResult:
    schedule = p.schedule_text()
    added: list[CronJob] = []

    def mutate(config: UserConfig) -> UserConfig:
        jobs = config.services.cron.jobs
        limit = config.limits.max_cron_jobs
        if limit and len(jobs) >= limit:
            raise Conflict(
                f"limit reached: {len(jobs)} of {limit} cron jobs in use (max_cron_jobs)",
                field="max_cron_jobs",
            )
        taken = {j.id for j in jobs}
        job_id = secrets.token_hex(6)
        while job_id in taken:
            job_id = secrets.token_hex(6)
        job = CronJob(id=job_id, schedule=schedule, command=p.command)
        added.append(job)
        return _with_cron(config, jobs=[*jobs, job])

    result = change_account(call, p.username, "cron_add", mutate)
    if not call.dry_run:
        result.data = job_row(added[-1])
    return result


@op("cron_remove", CronRemove)
def cron_remove(call: Call, p: CronRemove) -> OpResult:
    def mutate(config: UserConfig) -> UserConfig:
        jobs = config.services.cron.jobs
        kept = [j for j in jobs if j.id != p.id]
        if len(kept) == len(jobs):
            raise NotFound(f"no cron job {p.id}", field="id")
        return _with_cron(config, jobs=kept)

    result = change_account(call, p.username, "cron_remove", mutate)
    if not call.dry_run:
        result.data = {"id": p.id}
    return result


@op("cron_set_enabled", CronEnabled)
def cron_set_enabled(call: Call, p: CronEnabled) -> OpResult:
    result = change_account(
        call, p.username, "cron_set_enabled", lambda c: _with_cron(c, enabled=p.enabled)
    )
    if not call.dry_run:
        result.data = {"enabled": p.enabled}
    return result
