"""`jopanel agent`: HTTP/1.1 over a Unix socket, `POST /execute {op, payload, dry_run}`.

Only root, the configured uids and the service group may connect (SO_PEERCRED). Bodies over
MAX_BODY are refused unread. Every op is logged by the registry as one JSON line, under the
actor `speaker` derives from the peer's credentials.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any, cast

from ..errors import JoPanelError
from ..settings import Settings
from ..system.accounts import parse_passwd
from . import streams
from .context import AgentContext
from .registry import execute
from .streams import STREAM_OPS

log = logging.getLogger("jopanel.agent")

MAX_BODY = 1 << 20
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")  # an API request's id (jopanel.agent.client)
SOCKET_MODE = 0o660


def peer_ids(sock: socket.socket) -> tuple[int, int]:
    """(uid, gid) of the connected process, from the kernel."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, gid = struct.unpack("3i", creds)
    return int(uid), int(gid)


def peer_uid(sock: socket.socket) -> int:
    return peer_ids(sock)[0]


def service_gid(settings: Settings) -> int | None:
    """The service group's gid as ROOT/etc/group has it (a sandbox's own group file)."""
    path = settings.path("etc/group")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == settings.service_user and fields[2].isdigit():
            return int(fields[2])
    return None


def service_uid(settings: Settings) -> int | None:
    """The service user's uid as ROOT/etc/passwd has it (the API runs as that user)."""
    entry = parse_passwd(settings.path("etc/passwd")).get(settings.service_user)
    return entry.uid if entry is not None else None


def speaker(
    peer: int, trusted: set[int], claimed_actor: object, claimed_request_id: object
) -> tuple[str, str | None]:
    """(actor, request id) to log an op under, from the peer's uid (SO_PEERCRED).

    Who can reach the socket at all: root; the service user, whose primary group owns the
    0660 socket (the API); anyone else whose group is the service group or whose uid is
    in `agent_allowed_uids`. Only root, the agent's own uid and the service user may name
    someone else: root could do the change itself, and the API has authenticated the panel
    user it names and the request it serves. Any other peer is logged as `uid:N` whatever
    it claims, and its request id is dropped: the audit table folds a journal line into
    the API row with the same request id, so a borrowed id would hide the line.
    """
    if peer not in trusted:
        if claimed_actor not in (None, f"uid:{peer}"):
            log.warning("uid %d claimed to act as %r: logged as itself", peer, claimed_actor)
        return f"uid:{peer}", None
    actor = claimed_actor if isinstance(claimed_actor, str) and claimed_actor else f"uid:{peer}"
    request_id = claimed_request_id if isinstance(claimed_request_id, str) else None
    if request_id is not None and not REQUEST_ID_RE.fullmatch(request_id):
        request_id = None
    return actor[:64], request_id


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    ctx: AgentContext
    allowed_uids: set[int]
    allowed_gid: int | None = None  # the service group: the API reaches the agent through it
    trusted_uids: set[int]  # peers that may name the actor they act for (see `speaker`)

    def allows(self, sock: socket.socket) -> tuple[bool, int]:
        uid, gid = peer_ids(sock)
        return uid in self.allowed_uids or (
            self.allowed_gid is not None and gid == self.allowed_gid
        ), uid


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    peer: int  # the connected process's uid (SO_PEERCRED), read once per request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug(format, *args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._say_if_closing()
        self.end_headers()
        self.wfile.write(data)

    def _say_if_closing(self) -> None:
        """A connection closed after this answer must say so: else the client pools it,
        sends its next op on it and gets a reset (a 503 from the API while the agent is
        up: found by the soak harness after streamed file ops)."""
        if self.close_connection:
            self.send_header("Connection", "close")

    def _speaker(self, request: dict[str, Any]) -> tuple[str, str | None]:
        return speaker(
            self.peer, self.server.trusted_uids, request.get("actor"), request.get("request_id")
        )

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "not_found", "message": "unknown path"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        allowed, uid = self.server.allows(self.connection)
        self.peer = uid
        if not allowed:
            self.close_connection = True
            self._send(403, {"error": "forbidden", "message": f"uid {uid} may not use the agent"})
            return
        if self.path == "/stream":
            self._stream()
            return
        if self.path != "/execute":
            self._send(404, {"error": "not_found", "message": "unknown path"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._send(411, {"error": "invalid", "message": "Content-Length required"})
            return
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(
                413, {"error": "invalid", "message": f"request larger than {MAX_BODY} bytes"}
            )
            return
        try:
            request = json.loads(self.rfile.read(length))
            if not isinstance(request, dict) or set(request) - {
                "op",
                "payload",
                "dry_run",
                "actor",
                "request_id",
            }:
                raise ValueError("expected {op, payload, dry_run, actor, request_id}")
        except ValueError as exc:
            self._send(400, {"error": "invalid", "message": f"malformed request: {exc}"})
            return
        actor, request_id = self._speaker(request)
        try:
            result = execute(
                self.server.ctx,
                request.get("op"),  # type: ignore[arg-type]  # execute rejects non-strings
                request.get("payload", {}),
                actor=actor,
                dry_run=request.get("dry_run") is True,
                request_id=request_id,
            )
        except JoPanelError as exc:
            self._send(exc.http_status, exc.to_dict())
            return
        except Exception as exc:  # noqa: BLE001 - never leak a traceback to a client
            log.exception("op failed")
            self._send(
                500, {"error": "internal", "message": f"internal error: {type(exc).__name__}"}
            )
            return
        self._send(200, result.model_dump(mode="json"))

    def _stream(self) -> None:
        """`POST /stream`: a file op whose bytes are the body (upload) or the answer
        (download); the op and its payload come as JSON in the X-JoPanel-Op header.

        The body is piped to the op as it arrives, never held whole; the connection is
        closed afterwards, so an op refused before reading its body leaves nothing behind.
        """
        self.close_connection = True
        try:
            request = json.loads(self.headers.get("X-JoPanel-Op", ""))
            length = int(self.headers.get("Content-Length", "0"))
            if not isinstance(request, dict) or set(request) - {
                "op",
                "payload",
                "actor",
                "request_id",
            }:
                raise ValueError("expected {op, payload, actor, request_id}")
            if request.get("op") not in STREAM_OPS or length < 0:
                raise ValueError("not a streaming op")
        except ValueError as exc:
            self._send(400, {"error": "invalid", "message": f"malformed request: {exc}"})
            return
        started = False

        def sink(meta: dict[str, Any]) -> IO[bytes]:
            nonlocal started
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(int(meta.get("size", 0))))
            self.send_header("X-JoPanel-Meta", json.dumps(meta))
            self._say_if_closing()
            self.end_headers()
            started = True
            return cast(IO[bytes], self.wfile)

        actor, request_id = self._speaker(request)
        body = _Body(cast(IO[bytes], self.rfile), length)
        tokens = (streams.INPUT.set((body, length)), streams.OUTPUT.set(sink))
        answer: tuple[int, dict[str, Any]] | None = None
        try:
            result = execute(
                self.server.ctx,
                str(request["op"]),
                request.get("payload", {}),
                actor=actor,
                request_id=request_id,
            )
            answer = (200, result.model_dump(mode="json"))
        except JoPanelError as exc:
            answer = (exc.http_status, exc.to_dict())
        except Exception as exc:  # noqa: BLE001 - never leak a traceback to a client
            log.exception("stream op failed")
            answer = (
                500,
                {"error": "internal", "message": f"internal error: {type(exc).__name__}"},
            )
        finally:
            streams.INPUT.reset(tokens[0])
            streams.OUTPUT.reset(tokens[1])
        if not started:
            # A client sends its whole body before it reads the answer: an op refused
            # before reading it (a 403, a 409) would otherwise look like a broken socket.
            body.drain()
            self._send(*answer)


class _Body:
    """The request body as the op's input: at most `length` bytes of the socket."""

    def __init__(self, raw: IO[bytes], length: int) -> None:
        self.raw = raw
        self.left = length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.raw.read(size) if size else b""
        self.left -= len(data)
        return data

    def drain(self) -> None:
        while self.left > 0 and self.read(1 << 20):
            pass


def socket_in_use(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def bind(settings: Settings) -> _Server:
    """Create the listening server; refuses if another agent serves the socket."""
    path = settings.socket_path
    if socket_in_use(path):
        raise JoPanelError(f"another agent is already serving {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    server = _Server(str(path), _Handler)
    server.ctx = AgentContext(settings)
    server.allowed_uids = {0, *settings.agent_allowed_uids}
    server.allowed_gid = service_gid(settings)
    api_uid = service_uid(settings)
    server.trusted_uids = {0, os.geteuid(), *([] if api_uid is None else [api_uid])}
    os.chmod(path, SOCKET_MODE)
    if server.allowed_gid is not None:  # else (a bare sandbox): a root-only socket
        os.chown(path, 0, server.allowed_gid)
    return server


def run(server: _Server) -> None:
    """Serve until `server.shutdown()`; removes the socket afterwards."""
    path = Path(server.server_address if isinstance(server.server_address, str) else "")
    log.info("agent listening on %s", path)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        path.unlink(missing_ok=True)
        log.info("agent stopped")


def serve(settings: Settings) -> None:
    """`jopanel agent`: run until SIGTERM/SIGINT, then finish the requests in flight."""
    server = bind(settings)

    def shutdown(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    recover(server.ctx)
    run(server)


def recover(ctx: AgentContext) -> None:
    """Roll back creates and finish deletes the previous agent died in
    (jopanel/agent/unfinished.py); requests wait in the socket's backlog meanwhile."""
    from .ops.users import finish_unfinished  # noqa: PLC0415 - ops import the server's peers

    try:
        for line in finish_unfinished(ctx):
            log.warning("%s", line)
    except JoPanelError as exc:  # the agent must start anyway; reconcile tries again
        log.error("finishing unfinished creates and deletes failed: %s", exc)
