"""`jopanel php …`: the PHP version and allow-listed settings of hosting accounts."""

from __future__ import annotations

import re
from typing import Annotated, Any

import click
import typer

from .domains import DryRun
from .output import emit, state_of
from .users import _result

app = typer.Typer(help="PHP version and settings of hosting accounts.", no_args_is_help=True)

SIZE_RE = re.compile(r"^([0-9]{1,5})([MmGg]?)$")


def megabytes(value: str | None) -> int | None:
    """`256M`, `1G` or `256` (MB) → MB; anything else is a usage error."""
    if value is None:
        return None
    match = SIZE_RE.fullmatch(value.strip())
    if match is None:
        raise typer.BadParameter(f"{value!r} is not a size like 256M or 1G")
    number = int(match[1])
    return number * 1024 if match[2].lower() == "g" else number


Size = Annotated[str | None, typer.Option(help="size: 256M, 1G (MB when no unit)")]


@app.command("show")
def php_show(ctx: typer.Context, user: str) -> None:
    """The account's PHP version and settings."""
    state = state_of(ctx)
    data = state.agent.execute("php_show", {"username": user}).data
    if state.as_json:
        emit(state, data)
        return
    settings = data["settings"]
    rows = [
        {"setting": "version", "value": data["version"]},
        {"setting": "memory_limit", "value": f"{data['effective_memory_limit_mb']}M"},
        {"setting": "max_execution_time", "value": f"{settings['max_execution_time']}s"},
        {"setting": "upload_max_filesize", "value": f"{settings['upload_max_filesize_mb']}M"},
        {"setting": "post_max_size", "value": f"{settings['post_max_size_mb']}M"},
        {"setting": "max_input_vars", "value": str(settings["max_input_vars"])},
        {"setting": "display_errors", "value": "on" if settings["display_errors"] else "off"},
    ]
    emit(state, rows, columns=["setting", "value"], title=f"{user}: PHP")


@app.command("set")
def php_set(
    ctx: typer.Context,
    user: str,
    version: Annotated[str | None, typer.Option(help="an installed PHP version")] = None,
    memory_limit: Size = None,
    max_execution_time: Annotated[int | None, typer.Option(help="seconds (1-600)")] = None,
    upload_max_filesize: Size = None,
    post_max_size: Size = None,
    max_input_vars: Annotated[int | None, typer.Option(help="100-100000")] = None,
    display_errors: Annotated[
        str | None, typer.Option(click_type=click.Choice(("on", "off")))
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Change the PHP version and/or settings (only those given)."""
    settings: dict[str, Any] = {
        "memory_limit_mb": megabytes(memory_limit),
        "max_execution_time": max_execution_time,
        "upload_max_filesize_mb": megabytes(upload_max_filesize),
        "post_max_size_mb": megabytes(post_max_size),
        "max_input_vars": max_input_vars,
        "display_errors": None if display_errors is None else display_errors == "on",
    }
    payload: dict[str, Any] = {"username": user}
    if version is not None:
        payload["version"] = version
    given = {k: v for k, v in settings.items() if v is not None}
    if given:
        payload["settings"] = given
    _result(ctx, "php_set", payload, f"PHP of {user} updated", dry_run)
