"""Ways to run agent ops: over the socket (the API, the CLI when an agent runs) or in-process.

Both raise the same JoPanelError subclasses, so callers never care which one they have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Protocol

import httpx

from ..errors import AgentUnavailable, JoPanelError, error_from_dict
from ..logs import REQUEST_ID as REQUEST_ID  # re-exported: the API middleware sets it
from ..settings import Settings
from . import (
    flow,  # noqa: F401 - registers InjectedFault, which the agent may send back
    streams,
)
from .context import AgentContext
from .registry import OpResult, execute
from .server import socket_in_use

# REQUEST_ID (jopanel.logs), the API request being served, is sent along with each op,
# so the agent's journal and logs name the request that asked.
CHUNK = 1 << 20


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

    # --- file streams (jopanel.agent.streams): bytes that are not JSON ---

    def _stream_headers(self, op: str, payload: dict[str, Any], actor: str) -> dict[str, str]:
        body: dict[str, Any] = {"op": op, "payload": payload, "actor": actor}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            body["request_id"] = request_id
        if not self.path.exists():
            raise AgentUnavailable(f"agent unreachable: no socket at {self.path}")
        # The agent closes every /stream connection after its answer: never pool one (a
        # pooled, closed connection made the next op fail with 503).
        return {"X-JoPanel-Op": json.dumps(body), "Connection": "close"}

    def send_stream(
        self,
        op: str,
        payload: dict[str, Any],
        source: IO[bytes],
        length: int,
        *,
        actor: str = "root",
    ) -> OpResult:
        """Run a streaming op with `length` bytes of `source` as its input."""
        headers = {**self._stream_headers(op, payload, actor), "Content-Length": str(length)}

        def chunks() -> Iterator[bytes]:
            remaining = length
            while remaining > 0:
                chunk = source.read(min(CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

        try:
            response = self._http.post("/stream", content=chunks(), headers=headers)
        except httpx.TransportError as exc:
            raise AgentUnavailable(f"agent unreachable at {self.path}: {exc}") from exc
        if response.status_code != 200:
            raise error_from_dict(_json(response))
        return OpResult.model_validate(_json(response))

    @contextmanager
    def fetch_stream(
        self, op: str, payload: dict[str, Any], *, actor: str = "root"
    ) -> Iterator[tuple[dict[str, Any], Iterator[bytes]]]:
        """Run a streaming op; yields (its metadata, its bytes as they come)."""
        headers = {**self._stream_headers(op, payload, actor), "Content-Length": "0"}
        try:
            with self._http.stream("POST", "/stream", headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    raise error_from_dict(_json(response))
                meta = json.loads(response.headers.get("X-JoPanel-Meta", "{}"))
                yield meta, response.iter_bytes(CHUNK)
        except httpx.TransportError as exc:
            raise AgentUnavailable(f"agent stream broken at {self.path}: {exc}") from exc

    def fetch_to(
        self, op: str, payload: dict[str, Any], out: IO[bytes], *, actor: str = "root"
    ) -> dict[str, Any]:
        with self.fetch_stream(op, payload, actor=actor) as (meta, chunks):
            for chunk in chunks:
                out.write(chunk)
        return meta


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise JoPanelError(f"agent answered HTTP {response.status_code} without JSON") from None


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

    def send_stream(
        self,
        op: str,
        payload: dict[str, Any],
        source: IO[bytes],
        length: int,
        *,
        actor: str = "root",
    ) -> OpResult:
        token = streams.INPUT.set((source, length))
        try:
            return self.execute(op, payload, actor=actor)
        finally:
            streams.INPUT.reset(token)

    def fetch_to(
        self, op: str, payload: dict[str, Any], out: IO[bytes], *, actor: str = "root"
    ) -> dict[str, Any]:
        token = streams.OUTPUT.set(lambda _meta: out)
        try:
            data = self.execute(op, payload, actor=actor).data
        finally:
            streams.OUTPUT.reset(token)
        return data if isinstance(data, dict) else {}


def agent_for_cli(settings: Settings) -> Agent:
    """The running agent if there is one, else in-process."""
    if socket_in_use(settings.socket_path):
        return SocketAgent(settings)
    return LocalAgent(settings)
