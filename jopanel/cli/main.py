"""The `jopanel` command: global options, verb groups, and where errors become exit codes."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import click
import typer

from ..errors import JoPanelError
from . import admin, domains, packages, serve, ssh_keys, system, users
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


@app.callback()
def main(
    ctx: typer.Context,
    root: Annotated[
        str | None, typer.Option("--root", help="system root (default JOPANEL_ROOT or /)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    ctx.obj = CliState(root=root, as_json=as_json)


def run() -> None:
    """Console entry point: one line on stderr and a non-zero exit for every failure."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("jopanel: aborted\n")
        sys.exit(1)
    except JoPanelError as exc:
        sys.stderr.write(f"jopanel: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    run()
