"""`/api/user/stats`, `jopanel user stats` (a table; --json) and what delete forgets."""

from __future__ import annotations

import json
from pathlib import Path

from jopanel.agent.bandwidth import state_dir
from jopanel.agent.usage import cache_path
from jopanel.settings import Settings
from tests.api.harness import Api
from tests.conftest import Op, cli, new_user
from tests.limits.test_limits_api import PASSWORD, api, joko  # noqa: F401 - fixtures

METER_NAMES = [
    "disk_used_mb", "bandwidth_used_mb", "addon_domains", "subdomains", "alias_domains",
    "databases", "db_users", "cron_jobs",
]  # fmt: skip


def test_api_user_stats(api: Api, joko: str) -> None:  # noqa: F811
    token = api.login(joko, PASSWORD)
    with api.client(token) as client:
        response = client.get("/api/user/stats")
        assert response.status_code == 200, response.text
        data = response.json()
        assert [m["name"] for m in data["meters"]] == METER_NAMES
        addon = next(m for m in data["meters"] if m["name"] == "addon_domains")
        assert addon["used"] == 2 and addon["limit"] == data["limits"]["max_addon_domains"]
        assert data["usage"]["alias_domains"] == 1
        assert data["disk"]["source"] in ("quota", "walk") and data["disk"]["age_s"] >= 0
        assert data["bandwidth"]["by_domain"] == {} and data["bandwidth"]["bytes"] == 0
        first = data["disk"]["measured_at"]
        cached = client.get("/api/user/stats").json()["disk"]["measured_at"]
        fresh = client.get("/api/user/stats", params={"refresh": "true"}).json()
        assert cached == first and fresh["disk"]["measured_at"] >= first
        assert client.get("/api/user/stats", params={"refresh": "maybe"}).status_code == 422
    # Staff have no /api/user: their principal is not a hosting account.
    assert api.request("GET", "/api/user/stats", as_="admin").status_code == 403


def test_cli_stats_table_and_json(root: Path, op: Op, settings: Settings) -> None:
    new_user(op, "joko")
    (settings.home_of("joko") / "public_html" / "big.bin").write_bytes(b"x" * (3 << 20))
    out = cli(root, "user", "stats", "joko").stdout
    for text in ("Disk", "Bandwidth this month", "Addon domains", "DB users", "Cron jobs"):
        assert text in out
    assert "unlimited" not in out and "{" not in out  # a table, not raw JSON
    assert "measured by a walk of the home" in out
    data = json.loads(cli(root, "--json", "user", "stats", "joko", "--refresh").stdout)
    assert data["usage"]["disk_used_mb"] >= 3 and data["disk"]["source"] == "walk"
    assert cache_path(settings, "joko").exists()
    assert (state_dir(settings) / "joko.json").exists()
    op("delete_user", username="joko")
    assert not cache_path(settings, "joko").exists()
    assert not (state_dir(settings) / "joko.json").exists()
