"""The system under test: a temp root with `jopanel agent` and `jopanel serve` as child
processes (killable and restartable), the CLI, and a failing-`useradd` shim.

Nothing here imports JoPanel's API or agent code: the harness talks to the product the way
an operator does, through its processes, its socket, its files and its console script.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

JOPANEL = str(Path(sys.executable).with_name("jopanel"))
MARIADB_SOCKET = "/run/mysqld/mysqld.sock"
ADMIN = "soakadmin"
ADMIN_PASSWORD = "soak-admin-" + "x" * 12

# The shim stands where the agent's runner looks first (Settings.command_path, honoured in
# a sandbox root only). Each time the harness arms it (creates useradd.armed) exactly one
# useradd fails; `mv` makes taking the arm atomic between concurrent callers.
SHIM = """#!/bin/sh
d=$(dirname "$0")
if mv "$d/useradd.armed" "$d/useradd.taken.$$" 2>/dev/null; then
  echo "$(date +%s.%N)" >> "$d/fired.log"
  echo "useradd: injected failure (soak harness)" >&2
  exit 1
fi
exec {real} "$@"
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


@dataclass
class Window:
    """A span of wall-clock time during which a process was down (end None: still down)."""

    what: str
    start: float
    end: float | None = None

    def overlaps(self, start: float, end: float, slack: float) -> bool:
        stop = (self.end if self.end is not None else time.time()) + slack
        return start <= stop and end >= self.start - slack


@dataclass
class MariaDbIndex:
    """A fresh MariaDB database for the panel's index and sessions (`--mariadb`)."""

    name: str = field(default_factory=lambda: "jopanel_soak_" + secrets.token_hex(4))

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@localhost/{self.name}?unix_socket={MARIADB_SOCKET}"

    def _sql(self, statement: str) -> None:
        import pymysql  # noqa: PLC0415 - only with --mariadb

        conn = pymysql.connect(user="root", unix_socket=MARIADB_SOCKET, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def create(self) -> None:
        self._sql(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")

    def drop(self) -> None:
        self._sql(f"DROP DATABASE IF EXISTS `{self.name}`")


class Cluster:
    """One JoPanel installation in a temp directory, driven through its processes."""

    def __init__(self, workdir: Path, *, mariadb: bool = False) -> None:
        self.workdir = workdir
        self.root = workdir / "root"
        self.shim_dir = workdir / "shim"
        self.logs = workdir / "logs"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.index_db = MariaDbIndex() if mariadb else None
        self.agent: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.windows: list[Window] = []
        self._lock = threading.Lock()
        self._log_files: list[IO[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}
        self.env["JOPANEL_COMMAND_PATH"] = str(self.shim_dir)
        if self.index_db is not None:
            self.env["JOPANEL_DATABASE_URL"] = self.index_db.url

    # --- setup -------------------------------------------------------------------
    def setup(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.shim_dir.mkdir(parents=True, exist_ok=True)
        real = shutil.which("useradd", path="/usr/sbin:/usr/bin:/sbin:/bin")
        if real is None:
            raise RuntimeError("useradd is not installed")
        shim = self.shim_dir / "useradd"
        shim.write_text(SHIM.format(real=real), encoding="utf-8")
        shim.chmod(0o755)
        if self.index_db is not None:
            self.index_db.create()
        self.cli("init")
        self.cli("admin", "create", ADMIN, "--password-stdin", input=ADMIN_PASSWORD + "\n")
        self.start_agent()
        self.start_api()

    def cli(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(  # noqa: S603 - our own console script, argv list
            [JOPANEL, "--root", str(self.root), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"jopanel {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        self._log_files.append(log)
        return subprocess.Popen(  # noqa: S603 - our own console script, argv list
            [JOPANEL, "--root", str(self.root), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )

    # --- the agent -----------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        return self.root / "run/jopanel/agent.sock"

    def start_agent(self) -> None:
        proc = self._spawn("agent", "agent")
        deadline = time.monotonic() + 60
        while not socket_answers(self.socket_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start (see {self.logs / 'agent.log'})")
            time.sleep(0.05)
        self.agent = proc

    def start_api(self) -> None:
        proc = self._spawn("api", "serve", "--listen", f"127.0.0.1:{self.port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start (see {self.logs / 'api.log'})")
            time.sleep(0.05)
        self.api = proc

    def kill_and_restart(self, which: str, down_s: float = 0.5) -> Window:
        """SIGKILL the agent or the API, leave it down a moment, start it again."""
        proc = self.agent if which == "agent" else self.api
        assert proc is not None
        window = Window(which, time.time())
        with self._lock:
            self.windows.append(window)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(down_s)
        if which == "agent":
            self.start_agent()
        else:
            self.start_api()
        window.end = time.time()
        return window

    def down_during(self, what: str, start: float, end: float, slack: float = 1.0) -> bool:
        with self._lock:
            windows = [w for w in self.windows if w.what == what]
        return any(w.overlaps(start, end, slack) for w in windows)

    # --- the useradd shim ----------------------------------------------------------
    def arm_useradd_failure(self) -> None:
        (self.shim_dir / "useradd.armed").touch()

    def useradd_fired(self) -> list[float]:
        log = self.shim_dir / "fired.log"
        if not log.exists():
            return []
        return [float(line) for line in log.read_text().split() if line.strip()]

    def disarm(self) -> None:
        (self.shim_dir / "useradd.armed").unlink(missing_ok=True)

    # --- teardown ------------------------------------------------------------------
    def stop(self) -> None:
        for proc in (self.api, self.agent):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self._log_files:
            log.close()
        if self.index_db is not None:
            self.index_db.drop()
