"""`service_status` on a sandbox root: pid files under ROOT, probed, nothing written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jopanel.errors import ValidationFailed
from jopanel.settings import Settings
from tests.conftest import Op


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def write_pid(path: Path, pid: int | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def by_name(op: Op) -> dict[str, dict[str, object]]:
    result = op("service_status")
    assert result.changed is False
    return {row["name"]: row for row in result.data}


def test_live_and_dead_pid_files_under_root(op: Op, root: Path, settings: Settings) -> None:
    for version in ("8.2", "8.3"):
        (root / f"etc/php/{version}/fpm/pool.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/php/7.4/fpm").mkdir(parents=True)  # no pool.d: not an installed version
    gone = dead_pid()
    write_pid(root / "run/nginx.pid", os.getpid())
    write_pid(root / "run/sshd.pid", gone)
    write_pid(root / "run/php/php8.2-fpm.pid", os.getpid())

    rows = op("service_status").data
    assert [r["name"] for r in rows] == [
        "agent", "nginx", "sshd", "php-fpm:8.2", "php-fpm:8.3", "mariadb",
    ]  # fmt: skip
    services = {r["name"]: r for r in rows}
    assert services["agent"] == {
        "name": "agent",
        "running": True,
        "pid": os.getpid(),  # in-process: the op runs here
        "pid_file": None,
        "detail": str(settings.socket_path),
    }
    assert services["nginx"] == {
        "name": "nginx",
        "running": True,
        "pid": os.getpid(),
        "pid_file": str(root / "run/nginx.pid"),
        "detail": f"pid {os.getpid()}",
    }
    assert services["sshd"] == {
        "name": "sshd",
        "running": False,
        "pid": gone,
        "pid_file": str(root / "run/sshd.pid"),
        "detail": f"stale pid file {root / 'run/sshd.pid'} (pid {gone})",
    }
    assert services["php-fpm:8.2"]["running"] is True
    assert services["php-fpm:8.2"]["pid_file"] == str(root / "run/php/php8.2-fpm.pid")
    assert services["php-fpm:8.3"] == {
        "name": "php-fpm:8.3",
        "running": False,
        "pid": None,
        "pid_file": str(root / "run/php/php8.3-fpm.pid"),
        "detail": f"no pid file {root / 'run/php/php8.3-fpm.pid'}",
    }
    assert services["mariadb"]["running"] is False


@pytest.mark.parametrize("content", ["", "abc\n", "0\n", "-1\n", "12 34\n", "9" * 80, "1e3\n"])
def test_a_pid_file_without_one_pid_is_not_running(op: Op, root: Path, content: str) -> None:
    write_pid(root / "run/nginx.pid", content)
    nginx = by_name(op)["nginx"]
    assert (nginx["running"], nginx["pid"]) == (False, None)
    assert nginx["detail"] == f"no pid in {root / 'run/nginx.pid'}"


def test_links_and_fifos_are_not_read(op: Op, root: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.pid"
    target.write_text(f"{os.getpid()}\n")
    (root / "run/nginx.pid").symlink_to(target)
    os.mkfifo(root / "run/sshd.pid")  # a plain open would block on it
    services = by_name(op)
    assert (services["nginx"]["running"], services["nginx"]["pid"]) == (False, None)
    assert (services["sshd"]["running"], services["sshd"]["pid"]) == (False, None)


def test_reads_only_writes_nothing_and_refuses_fields(
    op: Op, root: Path, settings: Settings
) -> None:
    write_pid(root / "run/nginx.pid", os.getpid())
    before = sorted(str(p) for p in root.rglob("*"))
    assert op("service_status", dry_run=True).data == op("service_status").data
    assert sorted(str(p) for p in root.rglob("*")) == before
    assert not settings.audit_journal.exists() or "service_status" not in (
        settings.audit_journal.read_text()
    )
    with pytest.raises(ValidationFailed) as caught:
        op("service_status", name="nginx")
    assert caught.value.field == "name"
