"""Refused file requests answer 4xx, never 503: the agent closes every /stream
connection after its answer, so the API must never send its next op on one (that was
the fuzzer's 503 on GET /api/user/files/download); an unusable upload form is a 422."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.agent.client import SocketAgent
from jopanel.errors import NotFound
from jopanel.settings import load_settings
from tests.files.test_api import Site, site

__all__ = ["site"]  # the real agent + API of test_api, reused


def test_refused_downloads_never_leave_the_next_op_a_dead_connection(site: Site) -> None:
    (site.home / "public_html").mkdir(exist_ok=True)
    statuses: list[tuple[str, int]] = []
    calls = (
        ("missing", "download", "mx-missing"),
        ("a dir", "download", "public_html"),
        ("dotdot", "download", "a/../b"),
        ("list", "list", ""),
        ("read", "content", "mx-missing"),
    )
    for _round in range(30):
        for label, route, path in calls:
            statuses.append((label, site.call("GET", route, params={"path": path}).status_code))
    assert {status for _label, status in statuses} == {200, 404, 422}, statuses
    assert dict(statuses) == {"missing": 404, "a dir": 422, "dotdot": 422, "list": 200, "read": 404}


@pytest.mark.parametrize(
    ("fields", "files", "said"),
    [
        ({f"f{i}": "x" for i in range(11)}, {"file": ("a.txt", b"a")}, "Too many fields"),
        ({}, {"file": ("a.txt", b"a"), "other": ("b.txt", b"b")}, "Too many files"),
    ],
)
def test_an_unusable_upload_form_is_422_and_writes_nothing(
    site: Site, fields: dict[str, str], files: dict[str, tuple[str, bytes]], said: str
) -> None:
    response = site.call("POST", "upload", data=fields, files=files)
    assert response.status_code == 422, response.text
    assert said in response.json()["detail"]
    assert not (site.home / "a.txt").exists() and not (site.home / "b.txt").exists()


class _Recorder(socketserver.StreamRequestHandler):
    """One connection: answers each request 404 without `Connection: close`, keeping the
    connection open the way an HTTP/1.1 server may; records what came on it."""

    server: _Server

    def handle(self) -> None:
        requests: list[dict[str, str]] = []
        self.server.connections.append(requests)
        while True:
            line = self.rfile.readline()
            if not line:
                return
            headers: dict[str, str] = {}
            while (header := self.rfile.readline().decode()) not in ("\r\n", ""):
                name, _, value = header.partition(":")
                headers[name.strip().lower()] = value.strip()
            requests.append(headers)
            body = json.dumps({"error": "not_found", "message": "no such file"}).encode()
            self.wfile.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    connections: list[list[dict[str, str]]]


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    settings = load_settings(tmp_path / "root")
    settings.socket_path.parent.mkdir(parents=True, exist_ok=True)
    server = _Server(str(settings.socket_path), _Recorder)
    server.connections = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server, tmp_path / "root"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_stream_op_asks_for_its_own_connection(recorder: tuple[_Server, Path]) -> None:
    """Even when an answer forgets to say the connection closes, the client does not
    pool a /stream connection: each stream op has a connection of its own."""
    server, root = recorder
    agent = SocketAgent(load_settings(root))
    try:
        for _ in range(3):
            with pytest.raises(NotFound), agent.fetch_stream("file_download", {"path": "x"}):
                pass
    finally:
        agent.close()
    assert [len(requests) for requests in server.connections] == [1, 1, 1]
    assert all(r["connection"] == "close" for c in server.connections for r in c)
