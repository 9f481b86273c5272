"""`make demo` in a fresh clone on a busy port: one clear line, a non-zero exit, nothing created.

The clone is of this repository's committed HEAD; `VENV=` points make at the existing
virtualenv so nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def as_typed_in_a_shell() -> dict[str, str]:
    """The environment without an outer make's (under `make test` a nested make would
    print "make[1]: Entering directory" and inherit its flags)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="make/git")
def test_make_demo_on_a_busy_port_creates_nothing(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    before = sorted(p.relative_to(clone) for p in clone.rglob("*"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            ["make", "demo", f"PORT={port}", f"VENV={VENV}"],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=as_typed_in_a_shell(),
        )
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"port {port} on 127.0.0.1 is not free" in lines[0]
    assert f"PORT={port + 1}" in lines[0]  # says what to do
    assert proc.stdout == ""
    assert not (clone / "var").exists()
    assert sorted(p.relative_to(clone) for p in clone.rglob("*")) == before


def test_demo_verb_on_a_busy_port_creates_nothing(tmp_path: Path) -> None:
    jopanel = str(Path(sys.executable).with_name("jopanel"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [jopanel, "--root", str(tmp_path / "demo"), "demo", "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 4
    assert proc.stderr.count("\n") == 1 and "is not free" in proc.stderr
    assert proc.stdout == ""  # no password printed for a panel that never started
    assert not (tmp_path / "demo").exists()


def _run_demo(root: Path, port: int, log: Path) -> str:
    """Start the demo, wait for its login page, stop it; its stdout."""
    jopanel = str(Path(sys.executable).with_name("jopanel"))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [jopanel, "--root", str(root), "demo", "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise AssertionError("demo did not answer")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return log.read_text()


def test_demo_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first = _run_demo(root, port, tmp_path / "first.log")
    assert first.splitlines()[0] == f"Panel: http://127.0.0.1:{port}/login"  # the URL first
    assert "admin login: admin / " in first and "sample account login: demo / " in first
    second = _run_demo(root, port, tmp_path / "second.log")
    assert second.splitlines()[0] == f"Panel: http://127.0.0.1:{port}/login"
    assert "admin login: admin (password as printed when it was created)" in second
    assert "sample account" not in second  # the account made the first time is still there
    assert (root / "etc/jopanel/users/demo/account.json").is_file()
