"""`jopanel --root R install --no-systemd` on a sandbox root: files, owners and modes; a
second run changes nothing; the units pass `systemd-analyze verify`; the API started as
the `jopanel` user (setpriv, the numeric ids of ROOT/etc/passwd) reaches the agent through
the socket's group and cannot read what is not its own."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from jopanel.system.accounts import parse_group, parse_passwd
from tests.conftest import JOPANEL

UNITS = ("jopanel-agent.service", "jopanel-api.service")


def install(root: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [JOPANEL, "--root", str(root), "--json", "install", "--no-systemd", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


@pytest.fixture(scope="module")
def installed() -> Iterator[tuple[Path, dict[str, object]]]:
    # Not under pytest's 0700 tmp: the jopanel user must be able to walk to its files.
    base = Path(tempfile.mkdtemp(prefix="jopanel-install-", dir="/tmp"))
    os.chmod(base, 0o755)
    root = base / "root"
    try:
        yield root, install(root)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def ids(installed: tuple[Path, dict[str, object]]) -> tuple[int, int]:
    root, _ = installed
    entry = parse_passwd(root / "etc/passwd")["jopanel"]
    return entry.uid, parse_group(root / "etc/group")["jopanel"]


def owner_mode(path: Path) -> tuple[int, int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def tree_digest(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root: owner, mode and content (or link target)."""
    entries: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            content: object = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = None
        entries[str(path.relative_to(root))] = (st.st_uid, st.st_gid, st.st_mode, content)
    return entries


def test_files_owners_and_modes(
    installed: tuple[Path, dict[str, object]], ids: tuple[int, int]
) -> None:
    root, report = installed
    uid, gid = ids
    assert 0 < uid < 1000 and 0 < gid < 1000  # a system user
    passwd = parse_passwd(root / "etc/passwd")["jopanel"]
    assert passwd.shell == "/usr/sbin/nologin" and passwd.home == "/var/lib/jopanel-api"
    assert owner_mode(root / "etc/jopanel/jopanel.toml") == (0, gid, 0o640)
    assert owner_mode(root / "etc/jopanel/secret.key") == (uid, gid, 0o600)
    assert owner_mode(root / "var/lib/jopanel-api") == (uid, gid, 0o700)
    assert owner_mode(root / "var/lib/jopanel-api/jopanel.db") == (uid, gid, 0o600)
    assert owner_mode(root / "var/lib/jopanel") == (0, 0, 0o700)
    assert owner_mode(root / "etc/jopanel/users") == (0, 0, 0o700)
    assert owner_mode(root / "etc/jopanel/tls") == (0, 0, 0o700)
    assert owner_mode(root / "etc/jopanel/tls/panel.key") == (0, 0, 0o600)
    assert owner_mode(root / "etc/jopanel/tls/panel.crt") == (0, 0, 0o644)
    for unit in UNITS:
        assert owner_mode(root / "etc/systemd/system" / unit) == (0, 0, 0o644)
    api = (root / "etc/systemd/system/jopanel-api.service").read_text()
    for line in (
        "User=jopanel", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
        "PrivateTmp=yes", f"ReadWritePaths={root}/var/lib/jopanel-api",
    ):  # fmt: skip
        assert line in api.splitlines()
    assert "User=" not in (root / "etc/systemd/system/jopanel-agent.service").read_text()
    site = root / "etc/nginx/sites-available/jopanel.conf"
    assert "listen 127.0.0.1:8083 ssl;" in site.read_text()
    assert os.readlink(root / "etc/nginx/sites-enabled/jopanel.conf") == str(site)
    toml = (root / "etc/jopanel/jopanel.toml").read_text()
    assert f'database_url = "sqlite:///{root}/var/lib/jopanel-api/jopanel.db"' in toml
    assert '# listen = "127.0.0.1:8080"' in toml  # defaults documented, commented
    assert isinstance(report["admin_password"], str) and len(report["admin_password"]) >= 16


def test_install_twice_changes_nothing(installed: tuple[Path, dict[str, object]]) -> None:
    root, _ = installed
    before = tree_digest(root)
    again = install(root)
    assert again == {"done": [], "admin_password": None}
    assert tree_digest(root) == before


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_units_pass_systemd_analyze_verify(installed: tuple[Path, dict[str, object]]) -> None:
    root, _ = installed
    units = [str(root / "etc/systemd/system" / u) for u in UNITS]
    proc = subprocess.run(
        ["systemd-analyze", "verify", *units],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "jopanel" not in proc.stderr, proc.stderr  # no warning about our units


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: object, what: str, proc: subprocess.Popen[str], seconds: float = 120) -> None:
    """Poll until `check()` holds; generous, since a loaded machine starts a Python
    process slowly, and failing at once when the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what}: exited {proc.returncode}: {stderr_of(proc)}")
        time.sleep(0.1)
    raise AssertionError(f"{what}: not ready after {seconds}s: {stderr_of(proc)}")


def spawn(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A server process whose stderr goes to a file: a pipe nobody reads fills up and
    blocks the server mid-test."""
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(list(argv), stderr=log, text=True, env=env)
    _LOGS[proc.pid] = log
    return proc


_LOGS: dict[int, IO[str]] = {}


def stderr_of(proc: subprocess.Popen[str]) -> str:
    log = _LOGS.get(proc.pid)
    if log is None:
        return ""
    log.seek(0)
    return log.read()[-4000:]


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log = _LOGS.pop(proc.pid, None)
    if log is not None:
        log.close()


def as_service(uid: int, gid: int, *argv: str) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *argv]


SERVICE_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root")
def test_api_as_the_service_user_reaches_the_agent_and_nothing_else(
    installed: tuple[Path, dict[str, object]], ids: tuple[int, int]
) -> None:
    root, report = installed
    uid, gid = ids
    socket_path = root / "run/jopanel/agent.sock"
    agent = spawn(JOPANEL, "--root", str(root), "agent")
    api = None
    try:
        wait_for(socket_path.is_socket, "agent", agent)
        assert owner_mode(socket_path) == (0, gid, 0o660)  # reachable through the group alone
        port = free_port()
        api = spawn(
            *as_service(
                uid, gid, JOPANEL, "--root", str(root), "serve", "--listen", f"127.0.0.1:{port}"
            ),
            env=SERVICE_ENV,
        )
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, "api", api)
        assert httpx.get(f"{url}/api/health").json()["agent"] == "ok"
        token = httpx.post(
            f"{url}/api/auth/login",
            json={"username": "admin", "password": report["admin_password"]},
            timeout=30,
        ).json()["access_token"]
        # An op that only the agent answers, over the socket, as uid `jopanel`.
        status = httpx.get(
            f"{url}/api/admin/services/status",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert status.status_code == 200, status.text
    finally:
        for proc in (api, agent):
            if proc is not None:
                stop(proc)

    (root / "etc/jopanel/mariadb.cnf").write_text("[client]\nuser=root\n")
    os.chmod(root / "etc/jopanel/mariadb.cnf", 0o600)
    probe = """
import os, sys
denied, allowed = [], []
for path in sys.argv[2:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        allowed.append(path)
    except PermissionError:
        denied.append(path)
print(repr((denied, allowed)))
"""
    secret_like = [
        root / "etc/shadow", root / "etc/gshadow", root / "etc/jopanel/users",
        root / "etc/jopanel/users/.revisions", root / "etc/jopanel/archive",
        root / "etc/jopanel/packages", root / "etc/jopanel/tls",
        root / "etc/jopanel/mariadb.cnf", root / "var/lib/jopanel",
    ]  # fmt: skip
    needed = [
        root / "etc/jopanel/jopanel.toml", root / "etc/jopanel/secret.key",
        root / "var/lib/jopanel-api/jopanel.db",
    ]  # fmt: skip
    reads = subprocess.run(
        as_service(uid, gid, sys.executable, "-c", probe, "x", *map(str, secret_like + needed)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=SERVICE_ENV,
    )
    denied, allowed = eval(reads.stdout)  # noqa: S307 - our own repr of two lists of str
    assert denied == [str(p) for p in secret_like]
    assert allowed == [str(p) for p in needed]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root")
def test_a_user_outside_the_group_cannot_reach_the_agent(
    installed: tuple[Path, dict[str, object]],
) -> None:
    root, _ = installed
    socket_path = root / "run/jopanel/agent.sock"
    agent = spawn(JOPANEL, "--root", str(root), "agent")
    try:
        wait_for(socket_path.is_socket, "agent", agent)
        probe = (
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1]); print('connected')\n"
            "except PermissionError: print('denied')\n"
        )
        proc = subprocess.run(
            as_service(65534, 65534, sys.executable, "-c", probe, str(socket_path)),
            capture_output=True, text=True, timeout=60, check=True, env=SERVICE_ENV,
        )  # fmt: skip
        assert proc.stdout.strip() == "denied"
    finally:
        stop(agent)
