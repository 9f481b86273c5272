"""Ways to run agent ops: over the socket (the API, the CLI when an agent runs) or in-process.

Both raise the same JoPanelError subclasses, so callers never care which one they have.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

import httpx

from ..errors import AgentUnavailable, JoPanelError, error_from_dict
from ..settings import Settings
from . import flow  # noqa: F401 - registers InjectedFault, which the agent may send back
from .context import AgentContext
from .registry import OpResult, execute
from .server import socket_in_use

# The API request being served (set by the audit middleware): sent along with each op,
# so the agent's journal and logs name the request that asked.
REQUEST_ID: ContextVar[str | None] = ContextVar("jopanel_request_id", default=None)


class Agent(Protocol):
    def execute(
        self, op: str, payload: dict[str, Any], *, actor: str = ..., dry_run: bool = ...
    ) -> OpResult: ...


class SocketAgent:
    """Talks to a running `jopanel agent` over its Unix socket."""

    def __init__(self, settings: Settings, timeout: float = 120.0) -> None:
        self.path = settings.socket_path
        transport = httpx.HTTPTransport(uds=str(self.path))
        self._http = httpx.Client(transport=transport, base_url="http://agent", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def execute(
        self, op: str, payload: dict[str, Any], *, actor: str = "root", dry_run: bool = False
    ) -> OpResult:
        body = {"op": op, "payload": payload, "dry_run": dry_run, "actor": actor}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            body["request_id"] = request_id
        if not self.path.exists():
            # Checked first because httpcore leaks the socket of a failed Unix connect.
            raise AgentUnavailable(f"agent unreachable: no socket at {self.path}")
        try:
            response = self._http.post("/execute", json=body)
        except httpx.TransportError as exc:
            raise AgentUnavailable(f"agent unreachable at {self.path}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            raise JoPanelError(f"agent answered HTTP {response.status_code} without JSON") from None
        if response.status_code != 200:
            # The agent's class, with what it carries (a command's exit code, retry_after).
            raise error_from_dict(data)
        return OpResult.model_validate(data)


class LocalAgent:
    """Runs ops in this process under the same locks (the CLI with no agent running).

    `cached_accounts`: the context parses passwd/shadow/group once per version of each
    file (jopanel.system.accounts_cache), for a caller running thousands of ops in a row.
    Only the agent package touches `ctx`; callers go through `execute`.
    """

    def __init__(self, settings: Settings, *, cached_accounts: bool = False) -> None:
        self.ctx = AgentContext(settings, cached_accounts=cached_accounts)

    def execute(
        self, op: str, payload: dict[str, Any], *, actor: str = "root", dry_run: bool = False
    ) -> OpResult:
        return execute(
            self.ctx, op, payload, actor=actor, dry_run=dry_run, request_id=REQUEST_ID.get()
        )


def agent_for_cli(settings: Settings) -> Agent:
    """The running agent if there is one, else in-process."""
    if socket_in_use(settings.socket_path):
        return SocketAgent(settings)
    return LocalAgent(settings)
