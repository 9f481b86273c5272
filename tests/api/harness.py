"""A real API over real HTTP: a `jopanel agent` child process on a temp root, the FastAPI
app under uvicorn on a free loopback port in a thread, and httpx clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from jopanel.agent.server import socket_in_use
from jopanel.api.app import create_app
from jopanel.auth.sessions import LoginThrottle
from jopanel.settings import Settings
from tests.conftest import JOPANEL


@contextmanager
def running_agent(root: Path, settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """`jopanel --root ROOT agent` as a child process; stopped with SIGTERM at the end."""
    proc = subprocess.Popen(
        [JOPANEL, "--root", str(root), "agent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")},
    )
    try:
        deadline = time.monotonic() + 30
        while not socket_in_use(settings.socket_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the agent did not start")
            time.sleep(0.05)
        yield proc
    finally:
        stop_agent(proc)


def stop_agent(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Api:
    url: str
    app: FastAPI
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def request(
        self, method: str, path: str, *, as_: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        with httpx.Client(base_url=self.url, timeout=60) as client:
            return client.request(method, path, headers=headers, **kwargs)

    def login(self, username: str, password: str) -> str:
        response = self.request(
            "POST", "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1:<free port> in a thread; yields the base URL."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listener's proto is TCP; with proto 0 every keep-alive response waits ~40 ms for a
    # delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.ctx.close()


def make_app(settings: Settings, **kwargs: Any) -> FastAPI:
    kwargs.setdefault("throttle", LoginThrottle(per_account=5, per_ip=1000))
    return create_app(settings, **kwargs)


@contextmanager
def admin_and_accounts(
    root: Path, password: str, names: tuple[str, ...] = ("anna", "bert")
) -> Iterator[Api]:
    """A fresh root served for real (agent over its socket, API on loopback) with the
    staff login `admin` and hosting accounts `names`, each logged in, all with `password`."""
    from jopanel.settings import load_settings  # noqa: PLC0415
    from jopanel.system.sandbox import init_root  # noqa: PLC0415

    init_root(load_settings(root))
    settings = load_settings(root)
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            server = Api(url=url, app=app, settings=settings)
            app.state.ctx.staff.create("admin", password, "admin")
            server.tokens["admin"] = server.login("admin", password)
            for name in names:
                body = {
                    "username": name,
                    "password": password,
                    "contact_email": f"{name}@example.com",
                    "primary_domain": f"{name}.example.com",
                }
                created = server.request("POST", "/api/admin/users", json=body, as_="admin")
                assert created.status_code == 201, created.text
                server.tokens[name] = server.login(name, password)
            yield server
