"""`jopanel install|upgrade|uninstall`: JoPanel as systemd services (or into a sandbox root)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..install import steps
from .output import console, emit, state_of

NoSystemd = Annotated[
    bool,
    typer.Option(
        "--no-systemd", help="write the units under etc/systemd/system, never enable or start"
    ),
]


def _root(ctx: typer.Context) -> Path | None:
    root = state_of(ctx).root
    return Path(root).absolute() if root else None


def _emit(ctx: typer.Context, report: steps.Report, nothing: str) -> None:
    state = state_of(ctx)
    data = {"done": report.done, "admin_password": report.admin_password}
    if state.as_json:
        emit(state, data)
        return
    for line in report.done:
        console.print(f"  {line}", highlight=False)
    if not report.done:
        console.print(nothing)
    if report.admin_password:
        sys.stdout.write(
            f"panel admin login: {steps.FIRST_ADMIN} / {report.admin_password}"
            "   (shown once; `jopanel admin passwd` sets a new one)\n"
        )


def install(
    ctx: typer.Context,
    no_systemd: NoSystemd = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="mysql+pymysql://… or postgresql+psycopg://… (default SQLite)"
        ),
    ] = None,
    packages: Annotated[
        bool | None,
        typer.Option(
            "--packages/--no-packages",
            help="install the Debian packages (default: on /, not in a sandbox root)",
        ),
    ] = None,
    hostname: Annotated[
        str | None,
        typer.Option("--hostname", help="the panel's name (default: this machine's FQDN)"),
    ] = None,
    acme: Annotated[
        bool | None,
        typer.Option(
            "--acme/--no-acme",
            help="seek an ACME certificate for the hostname (default: when it resolves here)",
        ),
    ] = None,
) -> None:
    """Install JoPanel on this server (or into --root): packages, the jopanel user, settings,
    the database, systemd units, the panel on HTTPS port 8083, the first admin. Idempotent."""
    report = steps.install(
        _root(ctx), systemd=not no_systemd, packages=packages, database_url=database_url,
        hostname=hostname, acme=acme,
    )  # fmt: skip
    _emit(ctx, report, "already installed; nothing changed")


def upgrade(ctx: typer.Context, no_systemd: NoSystemd = False) -> None:
    """After updating the code: migrate the database, rewrite units and the panel block,
    restart the services and regenerate every account's configs."""
    report = steps.upgrade(_root(ctx), systemd=not no_systemd)
    _emit(ctx, report, "nothing to upgrade")


def uninstall(ctx: typer.Context, no_systemd: NoSystemd = False) -> None:
    """Stop and remove the services and the panel's nginx block; accounts, their files,
    /etc/jopanel and the database stay."""
    report = steps.uninstall(_root(ctx), systemd=not no_systemd)
    _emit(ctx, report, "not installed; nothing to remove")
