"""`jopanel migrate-v1 --from mysql+pymysql://user@host/db [--dry-run] [--backup-dir DIR]`"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..migrate.errors import MigrationIncomplete
from ..migrate.introspect import V1Source
from ..migrate.run import MigrateOptions, default_domain_suffix, migrate
from .output import CliState


def migrate_v1(
    ctx: typer.Context,
    from_url: Annotated[
        str,
        typer.Option(
            "--from",
            help="V1 database, e.g. mysql+pymysql://root@localhost/jopanel"
            " (localhost without a port uses the local socket)",
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report only; write nothing")] = False,
    backup_dir: Annotated[
        Path | None,
        typer.Option("--backup-dir", help="where the V1 dump goes (ROOT/var/backups/jopanel/v1)"),
    ] = None,
    domain_suffix: Annotated[
        str | None,
        typer.Option(
            "--default-domain-suffix",
            help="accounts without a usable V1 domain get <username>.<suffix>"
            " (default: this server's FQDN, else migrated.invalid)",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the V1 database password from stdin")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="list every V1 row")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress")] = False,
) -> None:
    """Migrate a JoPanel V1 database: backup, configs, Linux users, logins, verification."""
    state: CliState = ctx.obj
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    options = MigrateOptions(
        source=V1Source.from_url(from_url, password=password),
        backup_dir=backup_dir,
        dry_run=dry_run,
        default_domain_suffix=domain_suffix or default_domain_suffix(),
        progress=not no_progress,
        console=Console(stderr=True),
    )
    report = migrate(state.settings, options)
    if as_json or state.as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        report.render(Console(), verbose=verbose)
    if not report.ok:
        failed = report.counts()["failed"]
        raise MigrationIncomplete(
            f"{failed} V1 row{'s' if failed != 1 else ''} failed to migrate (see the report)"
        )
