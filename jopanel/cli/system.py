"""Whole-server verbs: init, reconcile, rebuild, reindex, doctor, agent."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer

from ..accounts.service import rebuild_index
from ..agent import server
from ..errors import JoPanelError
from ..logs import configure_service
from ..system.sandbox import init_root
from .domains import DryRun
from .output import CliState, emit, state_of, working


def init(ctx: typer.Context) -> None:
    """Prepare the system root (a sandbox when it has no etc/passwd); idempotent."""
    state: CliState = ctx.obj
    done = init_root(state.settings)
    from ..db.session import init_db  # the panel database schema; idempotent

    init_db(state.settings).dispose()
    emit(
        state,
        {"root": str(state.settings.root), "done": done},
        message="\n".join(done) or "already initialised",
    )


def reconcile(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="one account, or all")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """Find drift between the config files and the system, and repair it."""
    state: CliState = ctx.obj
    with working(state, "comparing configs with the system…"):
        result = state.agent.execute("reconcile", {"username": name}, dry_run=dry_run)
    if state.as_json:
        emit(state, result.model_dump(mode="json"))
        return
    rows = []
    for report in result.data:
        for change in report["changes"]:
            rows.append(
                {
                    "account": report["username"],
                    "drift": change,
                    "action": "would repair" if dry_run else "repaired",
                }
            )
        if report["error"]:
            rows.append(
                {
                    "account": report["username"],
                    "drift": report["error"],
                    "action": "not applied (invalid)",
                }
            )
    emit(
        state,
        rows,
        columns=["account", "drift", "action"],
        title="Reconcile",
        message=None if rows else "no drift",
    )


def doctor(ctx: typer.Context) -> None:
    """Check packages, units, the agent socket, the database, the nginx/PHP-FPM/sshd
    configs, disk space, certificates and drift; each row says what to do. Exit 1 on a fail."""
    from ..install.doctor import as_rows, run_checks

    state: CliState = ctx.obj
    with working(state, "checking the server and every account…"):
        checks = run_checks(state.settings, state.agent)
    emit(
        state, as_rows(checks), columns=["check", "status", "detail", "fix"], title="JoPanel doctor"
    )
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


def agent(ctx: typer.Context, verbose: Annotated[bool, typer.Option("--verbose")] = False) -> None:
    """Run the root agent on its Unix socket until SIGTERM."""
    state: CliState = ctx.obj
    configure_service(logging.DEBUG if verbose else logging.INFO)  # JSON lines on stderr
    init_root(state.settings)
    server.serve(state.settings)  # blocks until SIGTERM


def rebuild(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="one account, or all")] = None,
    dry_run: DryRun = False,
) -> None:
    """Regenerate vhosts, PHP-FPM pools, sshd Match blocks and key files (checked in batches)."""
    state = state_of(ctx)
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


def reindex(ctx: typer.Context) -> None:
    """Rebuild the account index in the database from the files on disk."""
    state = state_of(ctx)
    started = time.perf_counter()
    count = rebuild_index(state.settings, state.agent, state.sessions, state.principal.actor)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    emit(
        state,
        {"indexed": count, "duration_ms": elapsed},
        message=f"indexed {count} accounts in {elapsed} ms",
    )
