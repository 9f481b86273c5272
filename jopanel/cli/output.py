"""What the CLI prints: one JSON document with --json, Rich tables otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from ..accounts.service import AccountService, cli_principal
from ..accounts.staff import StaffLogins
from ..agent.client import Agent, agent_for_cli
from ..agent.registry import OpResult
from ..auth.sessions import Principal
from ..db.session import init_db, make_sessionmaker
from ..errors import RootNotInitialised
from ..settings import Settings, load_settings


def state_of(ctx: typer.Context) -> CliState:
    """The CLI state the `jopanel` callback put on the click context."""
    state: CliState = ctx.obj
    return state


class ActingAgent:
    """An agent whose ops default to one actor (the audit journal names who ran the CLI)."""

    def __init__(self, agent: Agent, actor: str) -> None:
        self.inner = agent
        self.actor = actor

    def execute(
        self, op: str, payload: dict[str, Any], *, actor: str | None = None, dry_run: bool = False
    ) -> OpResult:
        return self.inner.execute(op, payload, actor=actor or self.actor, dry_run=dry_run)


@dataclass
class CliState:
    root: str | None
    as_json: bool
    # False for the verbs that prepare a root themselves (init, demo, agent, migrate-v1).
    require_initialised: bool = True
    _settings: Settings | None = None
    _agent: Agent | None = None
    _sessions: sessionmaker[Session] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = load_settings(self.root)
            if self.require_initialised and not settings.users_dir.is_dir():
                # Refuse rather than create a database on a host that was never set up.
                raise RootNotInitialised(
                    f"{settings.root} is not a JoPanel root: run `jopanel init` or pass --root"
                )
            self._settings = settings
        return self._settings

    @property
    def agent(self) -> Agent:
        """The agent, with every op recorded as done by root (or the person behind sudo)."""
        if self._agent is None:
            self._agent = ActingAgent(agent_for_cli(self.settings), cli_principal().actor)
        return self._agent

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The panel database (migrated first): logins, sessions, the index, the audit."""
        if self._sessions is None:
            self._sessions = make_sessionmaker(init_db(self.settings))
        return self._sessions

    @property
    def accounts(self) -> AccountService:
        """The same account service the API uses, so the CLI skips nothing it does."""
        return AccountService(self.settings, self.agent, self.sessions)

    @property
    def staff(self) -> StaffLogins:
        return StaffLogins(self.sessions, self.agent)

    @property
    def principal(self) -> Principal:
        return cli_principal()


console = Console()
progress_console = Console(stderr=True)


@contextmanager
def working(state: CliState, message: str) -> Iterator[None]:
    """A spinner on stderr while a long verb runs (none with --json or without a terminal)."""
    if state.as_json or not progress_console.is_terminal:
        yield
        return
    with progress_console.status(message):
        yield


def emit(
    state: CliState,
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    message: str | None = None,
) -> None:
    """Print `data` as JSON, as a table of `columns`, or as `message`."""
    if state.as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if columns is not None and rows:  # an empty table says less than the message
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        console.print(table)
    elif columns is not None and not message:
        console.print(f"{title or 'result'}: none")
    if message:
        console.print(message)


def emit_mapping(state: CliState, data: dict[str, Any], title: str) -> None:
    if state.as_json:
        emit(state, data)
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        table.add_row(
            key, json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        )
    console.print(table)
