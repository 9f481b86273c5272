"""After the migration, the real `jopanel serve` logs V1 users in with their V1 passwords."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from jopanel.settings import Settings
from jopanel.store import ConfigStore
from tests.api.harness import running_agent
from tests.conftest import JOPANEL
from tests.migrate import v1fixture
from tests.migrate.conftest import _db, run_migration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(root: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}
    proc = subprocess.Popen(
        [JOPANEL, "--root", str(root), "serve", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "jopanel serve exited"
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
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


@pytest.fixture
def small_v1() -> Iterator[v1fixture.Fixture]:
    with v1fixture.built("documented", 12) as fx:
        yield fx


def test_serve_logs_v1_users_in_with_v1_passwords(
    root: Path, settings: Settings, small_v1: v1fixture.Fixture, tmp_path: Path
) -> None:
    report = run_migration(settings, small_v1.database, tmp_path / "backups")
    assert report.ok
    store = ConfigStore(settings)
    status = {name: store.read(name).account.status for name in store.list_usernames()}
    active = [n for n in small_v1.passwords if status.get(n) == "active"]
    suspended = [n for n in small_v1.passwords if status.get(n) == "suspended"]
    assert active and suspended
    with running_agent(root, settings), serving(root) as base:

        def login(username: str, password: str) -> httpx.Response:
            return httpx.post(
                f"{base}/api/auth/login",
                json={"username": username, "password": password},
                timeout=30,
            )

        for name in ["admin", "ops", "reseller0", *active[:3]]:
            response = login(name, small_v1.passwords[name])
            assert response.status_code == 200, (name, response.text)
            token = response.json()["access_token"]
            me = httpx.get(
                f"{base}/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            assert me.json()["username"] == name
        assert login(active[0], "not the V1 password").status_code == 401
        assert login(suspended[0], small_v1.passwords[suspended[0]]).status_code == 403
        # Rehashed to argon2id at that first login; the V1 password still works.
        hashes = {u: h for u, h, _r in _db(settings)["logins"]}
        assert hashes["admin"].startswith("$argon2id$")
        assert login("admin", small_v1.passwords["admin"]).status_code == 200
    # And a re-run of the migration leaves the rehashed logins alone.
    again = run_migration(settings, small_v1.database, tmp_path / "backups")
    assert again.ok
    assert {u: h for u, h, _r in _db(settings)["logins"]}["admin"] == hashes["admin"]
