"""A sandbox account served by the real nginx on loopback HTTP and HTTPS ports."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import OpResult, execute
from jopanel.settings import Settings, load_settings
from jopanel.system.nginx import Nginx
from jopanel.system.reload import reloader_for
from tests.hosting.test_e2e import Web, stop, wait_for


@dataclass
class Served:
    root: Path
    settings: Settings
    ctx: AgentContext
    web: Web

    def op(self, name: str, /, **payload: Any) -> OpResult:
        return execute(self.ctx, name, payload, actor="test")

    def peer_cert(self, host: str, cafile: Path) -> dict[str, Any]:
        """The certificate nginx serves for `host` (SNI), verified against `cafile`."""
        context = ssl.create_default_context(cafile=str(cafile))
        with (
            socket.create_connection(("127.0.0.1", self.settings.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert()
        assert cert is not None
        return dict(cert)

    def san(self, host: str, cafile: Path) -> list[str]:
        return [v for k, v in self.peer_cert(host, cafile)["subjectAltName"] if k == "DNS"]

    def curl(self, host: str, cafile: Path, path: str = "/") -> subprocess.CompletedProcess[str]:
        port = self.settings.https_port
        return subprocess.run(
            ["curl", "-sS", "--max-time", "5", "--cacert", str(cafile),
             "--resolve", f"{host}:{port}:127.0.0.1", f"https://{host}:{port}{path}"],
            capture_output=True, text=True,
        )  # fmt: skip


@contextmanager
def serving(root: Path, http_port: int, https_port: int, **extra: Any) -> Iterator[Served]:
    """nginx started from the sandbox's generated main config (both ports on 127.0.0.1);
    ops run in-process with settings that reload it."""
    settings = load_settings(root, http_port=http_port, https_port=https_port, **extra)
    nginx = Nginx(settings, AgentContext(settings).runner)
    nginx.ensure_base()
    process = subprocess.Popen(
        ["nginx", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log), "-c", str(nginx.main_config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: (root / "run/nginx.pid").exists(), "nginx")
        settings = load_settings(
            root, http_port=http_port, https_port=https_port,
            nginx_reload=nginx.signal_argv("reload"), **extra,
        )  # fmt: skip
        web = Web(http_port)
        ctx = AgentContext(settings)
        try:
            yield Served(root, settings, ctx, web)
        finally:
            web.client.close()
            reloader_for(settings, ctx.runner).flush()  # not at exit, after the root is gone
    finally:
        stop(process)
