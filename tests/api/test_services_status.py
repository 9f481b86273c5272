"""`GET /api/admin/services/status` over real HTTP: the agent reads the pid files under
ROOT; admins only; 503 with the agent down."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.settings import Settings
from tests.api.conftest import PASSWORD
from tests.api.harness import Api, make_app, running_agent, serving, stop_agent

PATH = "/api/admin/services/status"


@pytest.fixture
def pid_files(api_root: Path) -> Iterator[tuple[int, int]]:
    """nginx's pid file names this test's process (alive), sshd's one that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    files = {api_root / "run/nginx.pid": os.getpid(), api_root / "run/sshd.pid": child.pid}
    for path, pid in files.items():
        path.write_text(f"{pid}\n")
    yield os.getpid(), child.pid
    for path in files:
        path.unlink()


def test_services_from_pid_files_under_root(
    api: Api, api_root: Path, pid_files: tuple[int, int]
) -> None:
    alive, dead = pid_files
    response = api.request("GET", PATH, as_="admin")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    services = {item["name"]: item for item in items}
    versions = sorted(p.parent.parent.name for p in (api_root / "etc/php").glob("*/fpm/pool.d"))
    assert versions  # the accounts of the session have PHP pools
    assert [i["name"] for i in items] == [
        "agent",
        "nginx",
        "sshd",
        *(f"php-fpm:{v}" for v in versions),
        "mariadb",
    ]
    assert services["agent"] == {
        "name": "agent",
        "status": "running",
        "detail": str(api.settings.socket_path),
    }
    assert services["nginx"] == {
        "name": "nginx",
        "status": "running",
        "detail": f"pid {alive}",
    }
    assert services["sshd"] == {
        "name": "sshd",
        "status": "stopped",
        "detail": f"stale pid file {api_root / 'run/sshd.pid'} (pid {dead})",
    }
    for version in versions:
        pid_file = api_root / f"run/php/php{version}-fpm.pid"
        assert services[f"php-fpm:{version}"] == {
            "name": f"php-fpm:{version}",
            "status": "stopped",
            "detail": f"no pid file {pid_file}",
        }


@pytest.mark.parametrize(
    ("as_", "status"),
    [(None, 401), ("reseller", 403), ("other_reseller", 403), ("account_a", 403)],
)
def test_admins_only(api: Api, as_: str | None, status: int) -> None:
    response = api.request("GET", PATH, as_=as_)
    assert response.status_code == status, response.text


def test_agent_down_is_503(root: Path, settings: Settings) -> None:
    with running_agent(root, settings) as agent:
        app = make_app(settings)
        app.state.ctx.staff.create("admin", PASSWORD, "admin")
        with serving(app) as url:
            api = Api(url=url, app=app, settings=settings)
            api.tokens["admin"] = api.login("admin", PASSWORD)
            assert api.request("GET", PATH, as_="admin").status_code == 200
            stop_agent(agent)
            response = api.request("GET", PATH, as_="admin")
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "agent_down"
