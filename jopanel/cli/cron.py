"""`jopanel cron …`: the cron jobs of hosting accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .domains import DryRun
from .output import emit, state_of
from .users import _result

app = typer.Typer(help="Cron jobs of hosting accounts.", no_args_is_help=True)

FieldOpt = Annotated[str | None, typer.Option(help="schedule field (default *)")]


@app.command("list")
def cron_list(ctx: typer.Context, user: str) -> None:
    """The account's jobs (and whether its cron is on)."""
    state = state_of(ctx)
    data = state.agent.execute("cron_list", {"username": user}).data
    if state.as_json:
        emit(state, data)
        return
    limit = data["limit"] or "unlimited"
    title = f"{user}: cron {'on' if data['active'] else 'off'}, {len(data['jobs'])} of {limit}"
    emit(state, data["jobs"], columns=["id", "schedule", "command"], title=title)


@app.command("add")
def cron_add(
    ctx: typer.Context,
    user: str,
    command: str,
    minute: FieldOpt = None,
    hour: FieldOpt = None,
    day_of_month: FieldOpt = None,
    month: FieldOpt = None,
    day_of_week: FieldOpt = None,
    shortcut: Annotated[
        str | None, typer.Option(help="@hourly, @daily, @weekly, @monthly or @yearly")
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Add a job: COMMAND runs at the schedule given by the fields or a shortcut."""
    payload: dict[str, Any] = {"username": user, "command": command}
    fields = {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month": month,
        "day_of_week": day_of_week,
        "shortcut": shortcut,
    }
    payload.update({k: v for k, v in fields.items() if v is not None})
    _result(ctx, "cron_add", payload, f"cron job added to {user}", dry_run)


@app.command("remove")
def cron_remove(ctx: typer.Context, user: str, job_id: str, dry_run: DryRun = False) -> None:
    """Remove the job with this id."""
    payload = {"username": user, "id": job_id}
    _result(ctx, "cron_remove", payload, f"cron job {job_id} removed from {user}", dry_run)


@app.command("enable")
def cron_enable(ctx: typer.Context, user: str, dry_run: DryRun = False) -> None:
    """Turn the account's cron on (its crontab is written)."""
    payload = {"username": user, "enabled": True}
    _result(ctx, "cron_set_enabled", payload, f"cron on for {user}", dry_run)


@app.command("disable")
def cron_disable(ctx: typer.Context, user: str, dry_run: DryRun = False) -> None:
    """Turn the account's cron off (its crontab is removed, the jobs are kept)."""
    payload = {"username": user, "enabled": False}
    _result(ctx, "cron_set_enabled", payload, f"cron off for {user}", dry_run)
