"""`jopanel domain …`, `jopanel ssh-key …` and `jopanel rebuild [NAME]`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import JoPanelError
from .output import emit, working
from .users import _result, _state

app = typer.Typer(help="Domains of hosting accounts.", no_args_is_help=True)
ssh_app = typer.Typer(help="SSH keys of hosting accounts.", no_args_is_help=True)

DryRun = Annotated[bool, typer.Option("--dry-run", help="show what would change")]


@app.command("add")
def add(
    ctx: typer.Context,
    user: str,
    domain: str,
    kind: Annotated[str, typer.Option("--type", help="addon, subdomain or alias")] = "addon",
    parent: Annotated[str | None, typer.Option("--parent", help="a subdomain's domain")] = None,
    dry_run: DryRun = False,
) -> None:
    """Add an addon domain, a subdomain or an alias (limits from limits.json)."""
    payload = {"username": user, "domain": domain, "type": kind, "parent": parent}
    _result(ctx, "domain_add", payload, f"added {domain} to {user}", dry_run)


@app.command("list")
def list_(ctx: typer.Context, user: str) -> None:
    """Every domain of the account with its document root."""
    state = _state(ctx)
    rows = state.agent.execute("domain_list", {"username": user}).data
    emit(state, rows, columns=["domain", "type", "parent", "document_root"], title=user)


@app.command("remove")
def remove(ctx: typer.Context, user: str, domain: str, dry_run: DryRun = False) -> None:
    """Remove a domain (its document root's files stay in the home)."""
    payload = {"username": user, "domain": domain}
    _result(ctx, "domain_remove", payload, f"removed {domain} from {user}", dry_run)


@ssh_app.command("list")
def ssh_list(ctx: typer.Context, user: str) -> None:
    """Authorized keys with their SHA256 fingerprints."""
    state = _state(ctx)
    rows = state.agent.execute("ssh_key_list", {"username": user}).data
    emit(state, rows, columns=["fingerprint", "type", "comment"], title=user)


@ssh_app.command("add")
def ssh_add(ctx: typer.Context, user: str, dry_run: DryRun = False) -> None:
    """Authorize the public key read from standard input."""
    key = sys.stdin.readline().strip()
    if not key:
        raise typer.BadParameter("no public key on standard input")
    _result(ctx, "ssh_key_add", {"username": user, "key": key}, f"key added to {user}", dry_run)


@ssh_app.command("remove")
def ssh_remove(ctx: typer.Context, user: str, fingerprint: str, dry_run: DryRun = False) -> None:
    """Remove the key with this fingerprint (SHA256:…)."""
    payload = {"username": user, "fingerprint": fingerprint}
    _result(ctx, "ssh_key_remove", payload, f"key removed from {user}", dry_run)


def rebuild(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="one account, or all")] = None,
    dry_run: DryRun = False,
) -> None:
    """Regenerate vhosts, PHP-FPM pools, sshd Match blocks and key files (checked in batches)."""
    state = _state(ctx)
    with working(state, "regenerating and checking configs…"):
        result = state.agent.execute("rebuild", {"username": name}, dry_run=dry_run)
    report = result.data
    if state.as_json:
        emit(state, result.model_dump(mode="json"))
    else:
        rows = [
            {"change": c, "action": "would apply" if dry_run else "applied"} for c in result.plan
        ]
        checks = ", ".join(f"{k} x{v}" for k, v in sorted(report["checks"].items())) or "none"
        emit(state, rows, columns=["change", "action"], title="Rebuild",
             message=f"{report['accounts']} accounts; checks: {checks}")  # fmt: skip
    if report["failed"]:
        failed = "; ".join(f"{n}: {e}" for n, e in sorted(report["failed"].items()))
        raise JoPanelError(f"rebuild failed for {len(report['failed'])} account(s): {failed}")
