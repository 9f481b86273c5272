"""The `jopanel` command: global options, verb groups, and where errors become exit codes."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import click
import typer

from ..errors import JoPanelError
from ..logs import configure_cli
from . import (
    admin,
    cron,
    databases,
    domains,
    files,
    packages,
    php,
    serve,
    ssh_keys,
    ssl,
    system,
    users,
)
from . import install as install_cli
from .migrate import migrate_v1
from .output import CliState

app = typer.Typer(
    help="JoPanel: Linux web hosting control panel.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(users.app, name="user")
app.add_typer(packages.app, name="package")
app.add_typer(domains.app, name="domain")
app.add_typer(ssh_keys.app, name="ssh-key")
app.add_typer(cron.app, name="cron")
app.add_typer(php.app, name="php")
app.add_typer(databases.app, name="db")
app.add_typer(files.app, name="file")
app.add_typer(ssl.app, name="ssl")
app.command("rebuild")(system.rebuild)
app.command("init")(system.init)
app.command("reconcile")(system.reconcile)
app.command("doctor")(system.doctor)
app.command("agent")(system.agent)
app.command("serve")(serve.serve)
app.command("reindex")(system.reindex)
app.command("demo")(serve.demo)
app.add_typer(admin.app, name="admin")
app.command("migrate-v1")(migrate_v1)
app.command("install")(install_cli.install)
app.command("upgrade")(install_cli.upgrade)
app.command("uninstall")(install_cli.uninstall)


@app.callback()
def main(
    ctx: typer.Context,
    root: Annotated[
        str | None, typer.Option("--root", help="system root (default JOPANEL_ROOT or /)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    ctx.obj = CliState(
        root=root,
        as_json=as_json,
        require_initialised=ctx.invoked_subcommand not in SETS_UP_ITS_ROOT,
    )


# Verbs that prepare the root themselves; every other verb refuses an uninitialised one.
SETS_UP_ITS_ROOT = frozenset({"init", "demo", "agent", "migrate-v1", "install"})
USAGE_EXIT = 2


def fail(message: str, code: str, exit_code: int, field: str | None = None) -> None:
    """The one way the CLI reports a failure: one line on stderr (JSON with --json)."""
    if "--json" in sys.argv[1:]:
        line = json.dumps({"error": code, "detail": message, "field": field})
    else:
        line = f"jopanel: {message}"
    sys.stderr.write(" ".join(line.split()) + "\n")
    sys.exit(exit_code)


def usage_message(exc: click.UsageError) -> str:
    """click's message on one line, with the help command of the verb that was mistyped."""
    message = exc.format_message().rstrip(".")
    if exc.ctx is not None:
        return f"{message} (see `{exc.ctx.command_path} --help`)"
    return message


def run() -> None:
    """Console entry point: one line on stderr and a non-zero exit for every failure."""
    configure_cli()  # warnings one line each; repairs as progress (jopanel.logs)
    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        if not exc.format_message():  # a bare group: typer has printed its help already
            sys.exit(USAGE_EXIT)
        fail(usage_message(exc), "usage", USAGE_EXIT)
    except click.ClickException as exc:
        fail(exc.format_message(), "usage", exc.exit_code)
    except click.exceptions.Abort:
        fail("aborted", "aborted", 1)
    except JoPanelError as exc:
        fail(str(exc), exc.code, exc.exit_code, exc.field)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    run()
