"""`jopanel user …`"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import click
import typer

from .output import emit, emit_mapping, state_of
from .packages import limit_values
from .stats_view import print_stats

app = typer.Typer(help="Hosting accounts.", no_args_is_help=True)

SUMMARY = ["username", "primary_domain", "contact_email", "package", "status", "owner"]


def read_password_stdin() -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise typer.BadParameter("no password on standard input")
    return password


def _result(
    ctx: typer.Context, op: str, payload: dict[str, Any], message: str, dry_run: bool = False
) -> None:
    state = state_of(ctx)
    result = state.accounts.change(state.principal, op, payload, dry_run=dry_run)
    out = result.model_dump(mode="json")
    if state.as_json:
        emit(state, out)
        return
    for step in result.plan:
        emit(state, None, message=f"  {'would ' if dry_run else ''}{step}")
    if dry_run:
        emit(state, None, message="dry run: nothing was changed")
    else:
        emit(state, None, message=message if result.changed else f"{message} (no change)")


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    domain: Annotated[str, typer.Option("--domain", help="primary domain")],
    email: Annotated[str, typer.Option("--email", help="contact email")],
    package: Annotated[str, typer.Option("--package")] = "default",
    owner: Annotated[
        str | None, typer.Option("--owner", help="admin or reseller owning it (default admin)")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """Create a hosting account (Linux user, home, config)."""
    payload: dict[str, Any] = {
        "username": name, "primary_domain": domain, "contact_email": email,
        "package": package, "owner": owner or "admin",
    }  # fmt: skip
    if password_stdin:
        payload["password"] = read_password_stdin()
    _result(ctx, "create_user", payload, f"created {name}", dry_run)


@app.command("list")
def list_(
    ctx: typer.Context, search: Annotated[str | None, typer.Option("--search")] = None
) -> None:
    """List accounts (read from their files)."""
    state = state_of(ctx)
    items = state.agent.execute("list_users", {"search": search}).data
    emit(state, items, columns=SUMMARY, title="Accounts")


@app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    """Show an account's six files."""
    state = state_of(ctx)
    data = state.agent.execute("get_config", {"username": name}).data
    if state.as_json:
        emit(state, data)
        return
    for kind in ("account", "limits", "domains", "services", "ssh", "meta"):
        emit_mapping(state, data[kind], f"{name}: {kind}.json")


@app.command("update")
def update(
    ctx: typer.Context,
    name: str,
    email: Annotated[str | None, typer.Option("--email")] = None,
    package: Annotated[str | None, typer.Option("--package")] = None,
    shell: Annotated[str | None, typer.Option("--shell")] = None,
    primary_domain: Annotated[str | None, typer.Option("--primary-domain")] = None,
    notes: Annotated[str | None, typer.Option("--notes")] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="fail if the account changed since")
    ] = None,
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", help="override one limit, field=value, e.g. max_subdomains=10"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="apply limits (or a package) below current usage")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """Change an account's email, package, shell, primary domain or limits."""
    account = {
        "contact_email": email,
        "package": package,
        "shell": shell,
        "primary_domain": primary_domain,
    }
    payload: dict[str, Any] = {
        "username": name,
        "account": {k: v for k, v in account.items() if v is not None},
        "expected_revision": revision,
    }
    if notes is not None:
        payload["meta"] = {"notes": notes}
    if limit:
        payload["limits"] = limit_values(limit, None)
    if force:
        payload["force"] = True
    _result(ctx, "update_user_config", payload, f"updated {name}", dry_run)


@app.command("suspend")
def suspend(
    ctx: typer.Context, name: str, dry_run: Annotated[bool, typer.Option("--dry-run")] = False
) -> None:
    """Lock the password, set the shell to nologin, serve the suspended page."""
    _result(ctx, "suspend_user", {"username": name}, f"suspended {name}", dry_run)


@app.command("unsuspend")
def unsuspend(
    ctx: typer.Context, name: str, dry_run: Annotated[bool, typer.Option("--dry-run")] = False
) -> None:
    """Restore exactly the password hash and shell the account had."""
    _result(ctx, "unsuspend_user", {"username": name}, f"unsuspended {name}", dry_run)


@app.command("ssh-mode")
def ssh_mode(
    ctx: typer.Context,
    name: str,
    mode: Annotated[
        str, typer.Argument(click_type=click.Choice(("sftp_chroot", "shell", "disabled")))
    ],
    port_forwarding: Annotated[
        bool | None, typer.Option("--port-forwarding/--no-port-forwarding")
    ] = None,
    agent_forwarding: Annotated[
        bool | None, typer.Option("--agent-forwarding/--no-agent-forwarding")
    ] = None,
    x11_forwarding: Annotated[
        bool | None, typer.Option("--x11-forwarding/--no-x11-forwarding")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """SSH access: sftp_chroot (SFTP locked in the home), shell, or disabled."""
    flags = {
        "allow_port_forwarding": port_forwarding,
        "allow_agent_forwarding": agent_forwarding,
        "allow_x11_forwarding": x11_forwarding,
    }
    payload: dict[str, Any] = {"username": name, "mode": mode}
    payload.update({k: v for k, v in flags.items() if v is not None})
    _result(ctx, "ssh_mode_set", payload, f"SSH mode of {name}: {mode}", dry_run)


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set the account's password (read from standard input)."""
    if not password_stdin:
        raise typer.BadParameter("use --password-stdin: passwords never go on a command line")
    _result(
        ctx,
        "set_password",
        {"username": name, "password": read_password_stdin()},
        f"password of {name} set",
    )


@app.command("delete")
def delete(
    ctx: typer.Context, name: str, dry_run: Annotated[bool, typer.Option("--dry-run")] = False
) -> None:
    """Terminate an account: Linux user and home removed, config archived."""
    _result(ctx, "delete_user", {"username": name}, f"deleted {name}", dry_run)


@app.command("stats")
def stats(
    ctx: typer.Context,
    name: str,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="walk the home again, not a recent cached figure")
    ] = False,
) -> None:
    """Usage against limits: disk, bandwidth this month, domains, databases, cron jobs."""
    state = state_of(ctx)
    data = state.agent.execute("user_stats", {"username": name, "refresh": refresh}).data
    if state.as_json:
        emit(state, data)
        return
    print_stats(data)


@app.command("history")
def history(ctx: typer.Context, name: str) -> None:
    """Earlier revisions of the account's config."""
    state = state_of(ctx)
    items = state.agent.execute("user_history", {"username": name}).data
    emit(
        state,
        items,
        columns=["seq", "current", "time", "action", "actor", "revision"],
        title=f"{name}: revisions",
    )


@app.command("diff")
def diff(ctx: typer.Context, name: str, old: int, new: int) -> None:
    """Field-level differences between two revisions."""
    state = state_of(ctx)
    items = state.agent.execute("user_diff", {"username": name, "old": old, "new": new}).data
    emit(state, items, columns=["path", "old", "new"], title=f"{name}: {old} -> {new}")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: str,
    seq: int,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """Make revision SEQ current again (as a new revision) and apply it."""
    _result(
        ctx,
        "user_rollback",
        {"username": name, "seq": seq},
        f"rolled {name} back to {seq}",
        dry_run,
    )
