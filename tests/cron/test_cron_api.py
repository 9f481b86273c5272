"""`/api/user/cron` over real HTTP: an account manages its own jobs only; hostile bodies
are refused with 422 before anything is written."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.harness import Api, admin_and_accounts

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("cron-api") / "root"
    with admin_and_accounts(root, PASSWORD) as server:
        yield server


def spool(api: Api) -> Path:
    return api.settings.crontab_dir


def test_add_list_remove_own_jobs(api: Api) -> None:
    added = api.request(
        "POST",
        "/api/user/cron",
        as_="anna",
        json={"minute": "*/10", "hour": "8-18", "command": "date +%H:%M >> ~/logs/t"},
    )
    assert added.status_code == 201, added.text
    job = added.json()
    assert job["schedule"] == "*/10 8-18 * * *" and job["command"] == "date +%H:%M >> ~/logs/t"
    listed = api.request("GET", "/api/user/cron", as_="anna").json()
    assert listed == {"enabled": True, "active": True, "limit": 5, "jobs": [job]}
    path = spool(api) / "anna"
    assert "*/10 8-18 * * * date +\\%H:\\%M >> ~/logs/t\n" in path.read_text()
    checked = subprocess.run(["crontab", "-n", str(path)], capture_output=True, check=False)
    assert checked.returncode == 0, checked
    # bert sees none of it and cannot remove it.
    assert api.request("GET", "/api/user/cron", as_="bert").json()["jobs"] == []
    assert api.request("DELETE", f"/api/user/cron/{job['id']}", as_="bert").status_code == 404
    off = api.request("PUT", "/api/user/cron", as_="anna", json={"enabled": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert not path.exists()
    api.request("PUT", "/api/user/cron", as_="anna", json={"enabled": True})
    assert path.exists()
    assert api.request("DELETE", f"/api/user/cron/{job['id']}", as_="anna").status_code == 204
    assert not path.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"minute": "1", "command": "true\n* * * * * evil"},
        {"minute": "1", "command": "true\r"},
        {"minute": "1", "command": "PATH=/tmp"},
        {"minute": "1", "command": "MAILTO=x"},
        {"shortcut": "@daily", "command": "=x"},
        {"shortcut": "@reboot", "command": "true"},
        {"minute": "* * * * * *", "command": "true"},
        {"minute": "60", "command": "true"},
        {"minute": "1", "command": "a\u0000b"},
        {"minute": "1", "command": "x" * 5000},
        {"minute": "1", "command": "true", "user": "root"},
        {"schedule": "* * * * *", "command": "true"},
    ],
)
def test_hostile_bodies_get_422_and_touch_nothing(api: Api, body: dict[str, Any]) -> None:
    before = sorted(p.name for p in spool(api).glob("*")) if spool(api).exists() else []
    config = (api.settings.users_dir / "bert/services.json").read_bytes()
    response = api.request("POST", "/api/user/cron", as_="bert", json=body)
    assert response.status_code == 422, response.text
    after = sorted(p.name for p in spool(api).glob("*")) if spool(api).exists() else []
    assert after == before
    assert (api.settings.users_dir / "bert/services.json").read_bytes() == config
