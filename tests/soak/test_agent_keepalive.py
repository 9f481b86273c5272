"""The agent says `Connection: close` when it closes a connection after answering (found
by the soak harness: after a streamed file op the API's pooled connection was closed by
the agent, the next op sent on it got "Server disconnected without sending a response",
and the API answered 503 while the agent was up)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx

from jopanel.agent.client import SocketAgent
from jopanel.settings import Settings
from tests.api.harness import running_agent
from tests.conftest import cli


def test_a_stream_then_ops_on_the_same_client_never_disconnect(
    root: Path, settings: Settings
) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com",
        "--email", "joko@example.com", "--password-stdin", input="correct horse 1\n")  # fmt: skip
    with running_agent(root, settings):
        transport = httpx.HTTPTransport(uds=str(settings.socket_path))
        with httpx.Client(transport=transport, base_url="http://agent") as raw:
            response = raw.post("/stream", headers={"X-JoPanel-Op": "{}", "Content-Length": "0"})
            assert response.headers.get("connection") == "close"
        agent = SocketAgent(settings)
        try:
            for n in range(60):
                data = f"round {n}\n".encode()
                payload = {"username": "joko", "path": "public_html/k.txt", "length": len(data),
                           "overwrite": True, "kind": "text"}  # fmt: skip
                agent.send_stream("file_upload", payload, io.BytesIO(data), len(data))
                agent.execute("get_config", {"username": "joko"})  # reuses the pool at once
        finally:
            agent.close()
