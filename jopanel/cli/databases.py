"""`jopanel db …`: MariaDB databases and DB users of hosting accounts.

Names may be given with or without the `<user>_` prefix. Passwords are read from standard
input (`--password-stdin`), never from the command line (where `ps` would show them).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .domains import DryRun
from .output import emit, state_of
from .users import _result, read_password_stdin

app = typer.Typer(help="MariaDB databases and DB users of hosting accounts.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def _password(password_stdin: bool) -> str:
    if not password_stdin:
        raise typer.BadParameter("use --password-stdin: passwords never go on a command line")
    return read_password_stdin()


def _size(size: int) -> str:
    return f"{size / 1048576:.2f} MB"


@app.command("list")
def db_list(ctx: typer.Context, user: str) -> None:
    """Databases (with their size) and DB users of USER."""
    state = state_of(ctx)
    data = state.agent.execute("db_list", {"username": user}).data
    if state.as_json:
        emit(state, data)
        return
    rows = [
        {**d, "size": _size(d["size_bytes"]), "users": ", ".join(d["users"]),
         "exists": "yes" if d["exists"] else "MISSING"}
        for d in data["databases"]
    ]  # fmt: skip
    emit(
        state,
        rows,
        columns=["name", "size", "tables", "users", "exists"],
        title=f"{user}: databases",
    )
    users = [
        {**u, "databases": ", ".join(u["databases"]) or "-",
         "locked": {True: "locked", False: "", None: "MISSING"}[u["locked"]]}
        for u in data["users"]
    ]  # fmt: skip
    emit(state, users, columns=["name", "databases", "locked"], title=f"{user}: DB users")
    limit = {0: "unlimited"}
    emit(
        state,
        None,
        message=f"{len(rows)} of {limit.get(data['max_databases'], data['max_databases'])} "
        f"databases, {len(users)} of {limit.get(data['max_db_users'], data['max_db_users'])} "
        "DB users",
    )


@app.command("create")
def db_create(
    ctx: typer.Context,
    user: str,
    name: str,
    password_stdin: PasswordStdin = False,
    dry_run: DryRun = False,
) -> None:
    """Create database USER_NAME and a DB user of the same name with ALL on it only."""
    payload = {"username": user, "name": name, "password": _password(password_stdin)}
    _result(ctx, "db_create", payload, f"database created for {user}", dry_run)


@app.command("delete")
def db_delete(ctx: typer.Context, user: str, name: str, dry_run: DryRun = False) -> None:
    """Drop a database (dumped to the archive first when it has tables) and its own user."""
    _result(ctx, "db_delete", {"username": user, "name": name}, "database dropped", dry_run)


@app.command("passwd")
def db_passwd(
    ctx: typer.Context, user: str, name: str, password_stdin: PasswordStdin = False
) -> None:
    """Set a new password for the DB user NAME (a database's own user has its name)."""
    payload = {"username": user, "name": name, "password": _password(password_stdin)}
    _result(ctx, "db_password_set", payload, "password set")


@app.command("user-create")
def db_user_create(
    ctx: typer.Context,
    user: str,
    name: str,
    database: Annotated[
        list[str] | None, typer.Option("--database", "-d", help="grant ALL on it (repeatable)")
    ] = None,
    password_stdin: PasswordStdin = False,
    dry_run: DryRun = False,
) -> None:
    """Create an extra DB user (within max_db_users)."""
    payload = {
        "username": user,
        "name": name,
        "password": _password(password_stdin),
        "databases": database or [],
    }
    _result(ctx, "db_user_create", payload, "DB user created", dry_run)


@app.command("user-delete")
def db_user_delete(ctx: typer.Context, user: str, name: str, dry_run: DryRun = False) -> None:
    """Drop a DB user."""
    _result(ctx, "db_user_delete", {"username": user, "name": name}, "DB user dropped", dry_run)


@app.command("user-grant")
def db_user_grant(
    ctx: typer.Context,
    user: str,
    name: str,
    database: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="take the grant away")] = False,
    dry_run: DryRun = False,
) -> None:
    """Grant the DB user NAME ALL on DATABASE (or --revoke it)."""
    payload = {"username": user, "name": name, "database": database, "revoke": revoke}
    _result(ctx, "db_user_grant", payload, "revoked" if revoke else "granted", dry_run)
