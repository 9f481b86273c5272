"""`jopanel package …`"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..schemas import LIMIT_FIELDS
from .output import CliState, emit, emit_mapping

app = typer.Typer(help="Hosting packages (plans).", no_args_is_help=True)

SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="field=value, e.g. max_subdomains=10")
]


def limit_values(pairs: list[str] | None, description: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if sep and key == "bandwidth_over_action":  # warn or block, checked by the agent
            values[key] = raw
            continue
        if not sep or key not in LIMIT_FIELDS:
            raise typer.BadParameter(f"{pair!r}: expected one of {', '.join(LIMIT_FIELDS)}=N")
        try:
            values[key] = int(raw)
        except ValueError:
            raise typer.BadParameter(f"{pair!r}: value must be a whole number") from None
    if description is not None:
        values["description"] = description
    return values


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    set_: SetOption = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
) -> None:
    """Create a package; unset limits take the defaults."""
    state: CliState = ctx.obj
    result = state.agent.execute(
        "package_create", {"name": name, "values": limit_values(set_, description)}
    )
    emit(state, result.model_dump(mode="json"), message=f"created package {name}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    state: CliState = ctx.obj
    items = state.agent.execute("package_list", {}).data
    emit(
        state,
        items,
        columns=[
            "name",
            "disk_quota_mb",
            "bandwidth_quota_mb",
            "max_addon_domains",
            "max_databases",
            "description",
        ],
        title="Packages",
    )


@app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    state: CliState = ctx.obj
    emit_mapping(state, state.agent.execute("package_get", {"name": name}).data, f"package {name}")


@app.command("update")
def update(
    ctx: typer.Context,
    name: str,
    set_: SetOption = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="update accounts even below their current usage")
    ] = False,
) -> None:
    """Change a package; its accounts get the new limits (fields they override keep
    theirs). Refused when a new limit is below an account's usage, unless --force."""
    state: CliState = ctx.obj
    result = state.agent.execute(
        "package_update", {"name": name, "values": limit_values(set_, description), "force": force}
    )
    updated = result.data.get("accounts_updated", [])
    message = f"updated package {name}" if result.changed else "no change"
    if updated:
        message += f"; accounts updated: {', '.join(updated)}"
    emit(state, result.model_dump(mode="json"), message=message)


@app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    state: CliState = ctx.obj
    result = state.agent.execute("package_delete", {"name": name})
    emit(state, result.model_dump(mode="json"), message=f"deleted package {name}")
