"""The agent over its real Unix socket: what it refuses, with nothing written or run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.errors import AgentUnavailable, JoPanelError, NotFound, ValidationFailed
from jopanel.settings import Settings
from jopanel.store import ConfigStore
from tests.conftest import cli
from tests.test_rollback import snapshot


@pytest.fixture
def agent(settings: Settings) -> Iterator[SocketAgent]:
    """A real agent serving the sandbox on its socket, in a thread of this process."""
    bound = server.bind(settings)
    thread = threading.Thread(target=server.run, args=(bound,), daemon=True)
    thread.start()
    client = SocketAgent(settings)
    yield client
    client.close()
    bound.shutdown()
    thread.join(10)
    assert not settings.socket_path.exists()


def raw_request(
    path: Path, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """One HTTP request over the socket, written by hand so any body can be sent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        head = {
            "Host": "agent",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
        }
        head.update(headers or {})
        request = "POST /execute HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
        sock.sendall(request.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(
            [h for h in header.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(
                b":"
            )[1]
        )
        while len(rest) < length:
            rest += sock.recv(65536)
    status = int(header.split(b" ")[1])
    return status, json.loads(rest)


def test_create_and_read_through_the_socket(agent: SocketAgent, root: Path) -> None:
    result = agent.execute(
        "create_user",
        {
            "username": "joko",
            "password": "correct horse 1",
            "contact_email": "j@example.com",
            "primary_domain": "joko.example.com",
        },
    )
    assert result.changed is True
    assert agent.execute("get_config", {"username": "joko"}).data["account"]["username"] == "joko"
    assert (root / "home/joko").is_dir()


def test_socket_mode_is_0660(agent: SocketAgent, settings: Settings) -> None:
    assert os.stat(settings.socket_path).st_mode & 0o777 == 0o660


HOSTILE_NAMES = [
    "root",
    "a;id",
    "-oProxyCommand=id",
    "../x",
    "joko\nroot",
    "/etc/passwd",
    "joko/../../x",
    "ＪＯＫＯ",
    "sshd",
    "a b",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_usernames_refused_with_nothing_written(
    agent: SocketAgent, root: Path, name: str
) -> None:
    before = snapshot(root)
    payload = {
        "username": name,
        "password": "correct horse 1",
        "contact_email": "j@example.com",
        "primary_domain": "x.example.com",
    }
    with pytest.raises(ValidationFailed) as info:
        agent.execute("create_user", payload)
    assert info.value.field == "username"
    for op_name in ("get_config", "delete_user", "suspend_user"):
        with pytest.raises(ValidationFailed):
            agent.execute(op_name, {"username": name})
    assert snapshot(root) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"op": "create_user", "payload": {}, "extra": 1}', 400),
        (b'{"op": "run_command", "payload": {"argv": ["id"]}}', 404),
        (b'{"op": "create_user", "payload": "x"}', 422),
        (b'{"op": "create_user", "payload": {"username": "joko"}}', 422),
        (b'{"op": "get_config", "payload": {"username": "joko", "sneaky": true}}', 422),
        (b'{"op": ["create_user"], "payload": {}}', 404),
    ],
)
def test_malformed_requests_refused(
    agent: SocketAgent, settings: Settings, root: Path, body: bytes, status: int
) -> None:
    before = snapshot(root)
    code, answer = raw_request(settings.socket_path, body)
    assert code == status
    assert answer["error"] and answer["message"]
    assert snapshot(root) == before


def test_oversized_request_refused_unread(agent: SocketAgent, settings: Settings) -> None:
    code, answer = raw_request(
        settings.socket_path, b"", {"Content-Length": str(server.MAX_BODY + 1)}
    )
    assert code == 413
    assert "larger" in answer["message"]


def test_unknown_op_is_not_found(agent: SocketAgent) -> None:
    with pytest.raises(NotFound) as info:
        agent.execute("shell", {"cmd": "id"})
    assert info.value.field == "op"


def test_peer_uid_not_allowed_is_refused(settings: Settings, root: Path) -> None:
    """SO_PEERCRED: this process (uid 0) is refused by an agent that allows only uid 12345."""
    bound = server.bind(settings)
    bound.allowed_uids = {12345}
    thread = threading.Thread(target=server.run, args=(bound,), daemon=True)
    thread.start()
    try:
        before = snapshot(root)
        body = json.dumps({"op": "create_user", "payload": {}}).encode()
        code, answer = raw_request(settings.socket_path, body)
        assert code == 403
        assert answer == {"error": "forbidden", "message": "uid 0 may not use the agent"}
        assert snapshot(root) == before
    finally:
        bound.shutdown()
        thread.join(10)


def test_peer_uid_is_read_from_the_kernel(agent: SocketAgent, settings: Settings) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(settings.socket_path))
        assert server.peer_uid(sock) == os.getuid()


def test_second_agent_refuses_to_start(agent: SocketAgent, settings: Settings) -> None:
    with pytest.raises(JoPanelError, match="already serving"):
        server.bind(settings)


def test_cli_uses_running_agent_and_errors_are_one_line(agent: SocketAgent, root: Path) -> None:
    proc = cli(root, "user", "show", "nosuchuser", check=False)
    assert proc.returncode == 3
    assert proc.stderr.strip().count("\n") == 0
    assert "nosuchuser" in proc.stderr


def test_client_without_agent_is_unavailable(settings: Settings) -> None:
    client = SocketAgent(settings)
    with pytest.raises(AgentUnavailable):
        client.execute("list_users", {})
    client.close()


# --- who the agent logs an op under: derived from the peer's credentials -------------

PEER_CLIENT = """
import json, socket, sys
body = sys.argv[2].encode()
with socket.socket(socket.AF_UNIX) as sock:
    sock.connect(sys.argv[1])
    sock.sendall(b"POST /execute HTTP/1.1\\r\\nHost: agent\\r\\nContent-Length: %d\\r\\n\\r\\n%s"
                 % (len(body), body))
    data = b""
    while b"\\r\\n\\r\\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
print(data.split(b" ")[1].decode())
"""
CLAIMED_REQUEST = "ab" * 16


@pytest.fixture
def reachable(root: Path) -> Iterator[Path]:
    """A directory other uids may walk into, for the socket (pytest's tmp is 0700 root)."""
    directory = Path(tempfile.mkdtemp(prefix="jopanel-peer-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def serve_for_peers(
    settings: Settings, socket_dir: Path, *, extra_uids: list[int], service: tuple[int, int]
) -> tuple[Settings, Any]:
    """An agent on a socket under `socket_dir` whose service user `jopsvc` has the ids
    `service` in ROOT/etc/passwd and group (the socket's group, as after install)."""
    uid, gid = service
    with open(settings.path("etc/passwd"), "a", encoding="utf-8") as passwd:
        passwd.write(f"jopsvc:x:{uid}:{gid}::/nonexistent:/usr/sbin/nologin\n")
    with open(settings.path("etc/group"), "a", encoding="utf-8") as group:
        group.write(f"jopsvc:x:{gid}:\n")
    served = settings.model_copy(
        update={
            "agent_socket": socket_dir / "agent.sock",
            "agent_allowed_uids": extra_uids,
            "service_user": "jopsvc",
        }
    )
    bound = server.bind(served)
    thread = threading.Thread(target=server.run, args=(bound,), daemon=True)
    thread.start()
    return served, (bound, thread)


def create_as(served: Settings, uid: int, gid: int, name: str) -> str:
    """create_user sent by a real process running as uid:gid, claiming to be `admin`."""
    body = json.dumps(
        {
            "op": "create_user",
            "payload": {
                "username": name,
                "password": "correct horse 1",
                "contact_email": f"{name}@example.com",
                "primary_domain": f"{name}.example.com",
            },
            "actor": "admin",
            "request_id": CLAIMED_REQUEST,
        }
    )
    proc = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
         "/usr/bin/python3", "-I", "-c", PEER_CLIENT, str(served.socket_path), body],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return proc.stdout.strip()


def journal_of(settings: Settings, name: str) -> list[tuple[str, str, str | None]]:
    lines = settings.audit_journal.read_text(encoding="utf-8").splitlines()
    return [
        (r["actor"], r["result"], r["request_id"])
        for r in map(json.loads, lines)
        if r["target"] == name
    ]


PEER_UID, SERVICE_UID = 61731, 61732  # ids nobody on the host has: throwaway peers


def test_a_peer_that_may_not_speak_for_others_is_logged_as_itself(
    settings: Settings, reachable: Path
) -> None:
    """A non-root, non-service peer (allowed in by agent_allowed_uids) claims `admin` and
    an API request's id: the journal and the revision name its uid, the id is dropped."""
    served, (bound, thread) = serve_for_peers(
        settings, reachable, extra_uids=[PEER_UID], service=(SERVICE_UID, SERVICE_UID)
    )
    try:
        os.chown(served.socket_path, 0, PEER_UID)  # its group may open the 0660 socket
        assert create_as(served, PEER_UID, PEER_UID, "peerone") == "200"
    finally:
        bound.shutdown()
        thread.join(10)
    assert journal_of(settings, "peerone") == [(f"uid:{PEER_UID}", "ok", None)]
    history = ConfigStore(settings).history("peerone")
    assert [(h.action, h.actor) for h in history] == [("create", f"uid:{PEER_UID}")]


def test_the_service_user_names_the_panel_user_and_a_group_member_does_not(
    settings: Settings, reachable: Path
) -> None:
    """The API's own uid may name the panel user it acts for; another process whose group
    is the service group reaches the agent too, but is logged as itself."""
    served, (bound, thread) = serve_for_peers(
        settings, reachable, extra_uids=[], service=(SERVICE_UID, SERVICE_UID)
    )
    try:
        assert create_as(served, SERVICE_UID, SERVICE_UID, "apione") == "200"
        assert create_as(served, PEER_UID, SERVICE_UID, "grpone") == "200"
    finally:
        bound.shutdown()
        thread.join(10)
    assert journal_of(settings, "apione") == [("admin", "ok", CLAIMED_REQUEST)]
    assert journal_of(settings, "grpone") == [(f"uid:{PEER_UID}", "ok", None)]


def test_root_may_name_the_actor_and_request() -> None:
    trusted = {0, 999}
    assert server.speaker(0, trusted, "alice", CLAIMED_REQUEST) == ("alice", CLAIMED_REQUEST)
    assert server.speaker(999, trusted, "admin as joko", "x") == ("admin as joko", None)
    assert server.speaker(0, trusted, None, None) == ("uid:0", None)
    assert server.speaker(1234, trusted, "root", CLAIMED_REQUEST) == ("uid:1234", None)
