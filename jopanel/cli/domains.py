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


reserved_app = typer.Typer(
    help="The hosting provider's own domains: no account may claim one or a name below it.",
    no_args_is_help=True,
)
app.add_typer(reserved_app, name="reserved")


def _set_reserved(ctx: typer.Context, names: list[str], message: str, dry_run: bool) -> None:
    state = state_of(ctx)
    result = state.agent.execute("reserved_domains_set", {"domains": names}, dry_run=dry_run)
    emit(state, result.model_dump(mode="json"), message=message)


@reserved_app.command("list")
def reserved_list(ctx: typer.Context) -> None:
    """The reserved domains."""
    state = state_of(ctx)
    names = state.agent.execute("reserved_domains_list", {}).data["domains"]
    emit(state, [{"domain": n} for n in names], columns=["domain"], title="Reserved domains")


@reserved_app.command("add")
def reserved_add(ctx: typer.Context, domains: list[str], dry_run: DryRun = False) -> None:
    """Reserve names (refused while an account holds one or a name below it)."""
    current = state_of(ctx).agent.execute("reserved_domains_list", {}).data["domains"]
    _set_reserved(ctx, [*current, *domains], f"reserved {', '.join(domains)}", dry_run)


@reserved_app.command("remove")
def reserved_remove(ctx: typer.Context, domains: list[str], dry_run: DryRun = False) -> None:
    """Let accounts claim these names again."""
    current = state_of(ctx).agent.execute("reserved_domains_list", {}).data["domains"]
    gone = {d.lower() for d in domains}
    _set_reserved(
        ctx, [n for n in current if n not in gone], f"released {', '.join(domains)}", dry_run
    )
