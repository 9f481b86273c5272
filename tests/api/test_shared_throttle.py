"""Two real `jopanel serve` processes on one panel database share one login throttle:
the guess after the limit is refused whichever worker takes it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from jopanel.settings import Settings
from tests.api.harness import running_agent
from tests.conftest import JOPANEL, cli

PASSWORD = "correct horse battery"
PER_ACCOUNT = 5  # the throttle's default: what `jopanel serve` runs with


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_worker(root: Path) -> Iterator[str]:
    """One `jopanel serve` process on its own port; the base URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}
    proc = subprocess.Popen(
        [JOPANEL, "--root", str(root), "serve", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "jopanel serve exited"
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "jopanel serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def login(base: str, name: str, password: str) -> int:
    body = {"username": name, "password": password}
    return httpx.post(f"{base}/api/auth/login", json=body, timeout=60).status_code


def test_two_api_workers_share_one_throttle(root: Path, settings: Settings) -> None:
    for name in ("boss", "bossto"):
        cli(root, "admin", "create", name, "--password-stdin", input=PASSWORD + "\n")
    with running_agent(root, settings), ExitStack() as stack:
        first = stack.enter_context(api_worker(root))
        second = stack.enter_context(api_worker(root))  # after the first migrated the DB
        workers = (first, second)
        # One guess after another, taking turns: each worker saw only some of them.
        codes = [login(workers[i % 2], "boss", f"wrong {i}") for i in range(PER_ACCOUNT)]
        assert codes == [401] * PER_ACCOUNT
        assert [login(w, "boss", PASSWORD) for w in workers] == [429, 429]
        # Guesses at once, half on each worker: no more than the limit get an answer.
        with ThreadPoolExecutor(max_workers=2 * PER_ACCOUNT) as pool:
            racing = list(
                pool.map(
                    lambda i: login(workers[i % 2], "bossto", f"wrong {i}"),
                    range(2 * PER_ACCOUNT),
                )
            )
        assert sorted(set(racing)) == [401, 429]
        assert racing.count(401) <= PER_ACCOUNT
        assert [login(w, "bossto", PASSWORD) for w in workers] == [429, 429]
        # The admin lifts one name's lock (`jopanel admin unblock`): that name logs in on
        # either worker, the other stays locked.
        unblocked = cli(root, "admin", "unblock", "boss")
        assert "may log in again" in unblocked.stdout
        assert login(second, "boss", PASSWORD) == 200
        assert login(first, "bossto", PASSWORD) == 429
