"""`jopanel domain …`: addon domains, subdomains and aliases of hosting accounts."""

from __future__ import annotations

from typing import Annotated

import click
import typer

from .output import emit, state_of
from .users import _result

app = typer.Typer(help="Domains of hosting accounts.", no_args_is_help=True)

DOMAIN_TYPES = ("addon", "subdomain", "alias")
DryRun = Annotated[bool, typer.Option("--dry-run", help="show what would change")]


@app.command("add")
def add(
    ctx: typer.Context,
    user: str,
    domain: str,
    kind: Annotated[
        str, typer.Option("--type", click_type=click.Choice(DOMAIN_TYPES), help="the kind")
    ] = "addon",
    parent: Annotated[str | None, typer.Option("--parent", help="a subdomain's domain")] = None,
    dry_run: DryRun = False,
) -> None:
    """Add an addon domain, a subdomain or an alias (limits from limits.json)."""
    payload = {"username": user, "domain": domain, "type": kind, "parent": parent}
    _result(ctx, "domain_add", payload, f"added {domain} to {user}", dry_run)


@app.command("list")
def list_(ctx: typer.Context, user: str) -> None:
    """Every domain of the account with its document root."""
    state = state_of(ctx)
    rows = state.agent.execute("domain_list", {"username": user}).data
    emit(state, rows, columns=["domain", "type", "www", "document_root"], title=user)


@app.command("remove")
def remove(ctx: typer.Context, user: str, domain: str, dry_run: DryRun = False) -> None:
    """Remove a domain (its document root's files stay in the home)."""
    payload = {"username": user, "domain": domain}
    _result(ctx, "domain_remove", payload, f"removed {domain} from {user}", dry_run)


@app.command("www")
def www(
    ctx: typer.Context,
    user: str,
    domain: str,
    state: Annotated[str, typer.Argument(click_type=click.Choice(("on", "off")))],
    dry_run: DryRun = False,
) -> None:
    """Turn the www. alias of a primary or addon domain on or off (on by default)."""
    payload = {"username": user, "domain": domain, "www": state == "on"}
    _result(ctx, "domain_www_set", payload, f"www.{domain} {state} for {user}", dry_run)
