"""What the CLI prints: one JSON document with --json, Rich tables otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from ..agent.client import Agent, agent_for_cli
from ..settings import Settings, load_settings


@dataclass
class CliState:
    root: str | None
    as_json: bool
    _settings: Settings | None = None
    _agent: Agent | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.root)
        return self._settings

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            self._agent = agent_for_cli(self.settings)
        return self._agent


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
