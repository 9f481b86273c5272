"""`jopanel ssh-key …`: the authorized keys of hosting accounts."""

from __future__ import annotations

import sys

import typer

from .domains import DryRun
from .output import emit, state_of
from .users import _result

app = typer.Typer(help="SSH keys of hosting accounts.", no_args_is_help=True)


@app.command("list")
def ssh_list(ctx: typer.Context, user: str) -> None:
    """Authorized keys with their SHA256 fingerprints."""
    state = state_of(ctx)
    rows = state.agent.execute("ssh_key_list", {"username": user}).data
    emit(state, rows, columns=["fingerprint", "type", "comment"], title=user)


@app.command("add")
def ssh_add(ctx: typer.Context, user: str, dry_run: DryRun = False) -> None:
    """Authorize the public key read from standard input."""
    key = sys.stdin.readline().strip()
    if not key:
        raise typer.BadParameter("no public key on standard input")
    _result(ctx, "ssh_key_add", {"username": user, "key": key}, f"key added to {user}", dry_run)


@app.command("remove")
def ssh_remove(ctx: typer.Context, user: str, fingerprint: str, dry_run: DryRun = False) -> None:
    """Remove the key with this fingerprint (SHA256:…)."""
    payload = {"username": user, "fingerprint": fingerprint}
    _result(ctx, "ssh_key_remove", payload, f"key removed from {user}", dry_run)
