"""`jopanel admin …`: panel staff logins (admins and resellers), managed as root."""

from __future__ import annotations

from typing import Annotated

import typer

from ..auth.sessions.throttle import LoginThrottle
from .output import emit, state_of
from .users import read_password_stdin

app = typer.Typer(help="Panel logins of admins and resellers.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from stdin")
]
STAFF_COLUMNS = ["username", "role", "status", "password", "last_login_at", "last_login_ip"]


def _password(password_stdin: bool) -> str:
    if not password_stdin:
        raise typer.BadParameter("give the password on standard input with --password-stdin")
    return read_password_stdin()


@app.command("create")
def admin_create(
    ctx: typer.Context,
    name: str,
    password_stdin: PasswordStdin = False,
    reseller: Annotated[
        bool, typer.Option("--reseller", help="a reseller instead of an admin")
    ] = False,
) -> None:
    """Create a panel admin (or reseller) login."""
    password = _password(password_stdin)
    state = state_of(ctx)
    role = "reseller" if reseller else "admin"
    state.staff.create(name, password, role)
    emit(state, {"username": name, "role": role}, message=f"created {role} {name}")


@app.command("list")
def admin_list(ctx: typer.Context) -> None:
    """Admin and reseller logins."""
    state = state_of(ctx)
    rows = [login.row() for login in state.staff.list()]
    emit(state, rows, columns=STAFF_COLUMNS, title="Panel staff logins")


@app.command("passwd")
def admin_passwd(ctx: typer.Context, name: str, password_stdin: PasswordStdin = False) -> None:
    """Set a staff login's password (a lost admin password is recovered this way, as root);
    its open sessions end."""
    password = _password(password_stdin)
    state = state_of(ctx)
    state.staff.set_password(name, password)
    emit(state, {"username": name}, message=f"password of {name} set; its sessions ended")


@app.command("suspend")
def admin_suspend(ctx: typer.Context, name: str) -> None:
    """Refuse a staff login (and end its sessions) until it is unsuspended."""
    state = state_of(ctx)
    state.staff.set_status(name, suspended=True)
    emit(state, {"username": name, "status": "suspended"}, message=f"suspended {name}")


@app.command("unsuspend")
def admin_unsuspend(ctx: typer.Context, name: str) -> None:
    """Let a suspended staff login in again."""
    state = state_of(ctx)
    state.staff.set_status(name, suspended=False)
    emit(state, {"username": name, "status": "active"}, message=f"unsuspended {name}")


@app.command("delete")
def admin_delete(ctx: typer.Context, name: str) -> None:
    """Delete a staff login (its accounts keep it as their owner's name)."""
    state = state_of(ctx)
    state.staff.delete(name)
    emit(state, {"username": name}, message=f"deleted login {name}")


@app.command("unblock")
def admin_unblock(ctx: typer.Context, name: str) -> None:
    """Lift the failed-login lock of a login name (an account's or staff's) before its
    window ends; the per-address count is left as it is."""
    state = state_of(ctx)
    dropped = LoginThrottle(sessions=state.sessions).forget(name)
    emit(
        state,
        {"username": name, "attempts_dropped": dropped},
        message=f"{name} may log in again ({dropped} failed attempts dropped)",
    )
