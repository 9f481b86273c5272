"""bandwidth_quota_mb applied, through a real sandbox nginx.

Two accounts each with a 1 MB monthly quota: `joko` on a package that says `block`,
`budi` on one that says `warn`. Both serve a little over 1 MB; the next count (the stats
op, as the panel's stats page runs it) turns joko's sites into 509 Bandwidth Limit
Exceeded and leaves budi's answering 200 with a warning in its stats; both are journaled.
Raising the quota, and a new month (reconcile), serve joko's site again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jopanel.agent.bandwidth import state_dir, this_month
from jopanel.agent.context import AgentContext
from jopanel.agent.hosting import Hosting
from jopanel.agent.registry import execute
from jopanel.settings import Settings, load_settings
from jopanel.system.nginx import Nginx
from jopanel.system.reload import Reloader
from jopanel.system.runner import Runner
from tests.hosting.conftest import open_root  # noqa: F401 - the fixture
from tests.hosting.test_e2e import free_port, wait_for

PAGE_BYTES = 300 * 1024  # four pages: a little over the 1 MB quota


class Sites:
    def __init__(self, settings: Settings, port: int) -> None:
        self.ctx = AgentContext(settings)
        self.reloader: Reloader = Hosting(self.ctx).reloader
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

    def op(self, op_name: str, /, **payload: Any) -> Any:
        return execute(self.ctx, op_name, payload, actor="test").data

    def get(self, host: str, path: str = "/") -> httpx.Response:
        return self.client.get(path, headers={"Host": host, "Connection": "close"})

    def until(self, host: str, status: int, path: str = "/") -> httpx.Response:
        """The first answer with `status`: nginx's workers take a reloaded config a moment
        after the signal (and old ones may answer meanwhile)."""
        seen: list[httpx.Response] = []

        def answered() -> bool:
            seen.append(self.get(host, path))
            return seen[-1].status_code == status

        wait_for(answered, f"{host} to answer {status}")
        return seen[-1]

    def journal(self, action: str) -> list[dict[str, Any]]:
        lines = self.ctx.settings.audit_journal.read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["action"] == action]


@pytest.fixture
def sites(open_root: Path) -> Iterator[Sites]:  # noqa: F811 - the fixture above
    root = open_root
    port = free_port()
    base = load_settings(root, http_port=port)
    ctx = AgentContext(base)
    for name, action in (("gold", "block"), ("silver", "warn")):
        values = {"bandwidth_quota_mb": 1, "bandwidth_over_action": action}
        execute(ctx, "package_create", {"name": name, "values": values}, actor="test")
    for name, package in (("joko", "gold"), ("budi", "silver")):
        execute(ctx, "create_user", {
            "username": name, "password": "correct horse 1", "package": package,
            "contact_email": f"{name}@example.com", "primary_domain": f"{name}.example.com",
        }, actor="test")  # fmt: skip
        config = ctx.store.read(name)
        page = root / f"home/{name}/public_html/index.html"
        page.write_text("x" * PAGE_BYTES)
        os.chown(page, config.account.uid, config.account.gid)
    nginx = Nginx(base, Runner())
    web = subprocess.Popen(
        ["nginx", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log), "-c", str(nginx.main_config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: (root / "run/nginx.pid").exists(), "nginx")
        # From here reloads signal this nginx (and never anything of the host's).
        sites = Sites(
            load_settings(root, http_port=port, nginx_reload=nginx.signal_argv("reload")), port
        )
        wait_for(lambda: _up(sites), "nginx to answer")
        yield sites
        sites.client.close()
    finally:
        if web.poll() is None:
            web.send_signal(signal.SIGQUIT)
            web.wait(timeout=10)


def _up(sites: Sites) -> bool:
    try:
        sites.get("nobody.invalid")
    except httpx.TransportError:
        return False
    return True


def _serve_over_the_quota(sites: Sites, host: str) -> None:
    for _ in range(4):
        assert sites.get(host).status_code == 200
    log = sites.ctx.settings.path(f"var/log/nginx/domains/{host}.access.log")
    wait_for(lambda: log.read_text().count('"GET / ') == 4, f"nginx to log {host}")


def test_block_serves_509_and_warn_keeps_serving_with_a_warning(sites: Sites) -> None:
    marks, reloads = sites.reloader.requested["nginx"], sites.reloader.reloads["nginx"]
    for name in ("joko", "budi"):
        _serve_over_the_quota(sites, f"{name}.example.com")
        bandwidth = sites.op("user_stats", username=name)["bandwidth"]
        assert bandwidth["over"] is True
    joko = sites.op("user_stats", username="joko")["bandwidth"]
    budi = sites.op("user_stats", username="budi")["bandwidth"]
    assert (joko["action"], joko["blocked"]) == ("block", True)
    assert (budi["action"], budi["blocked"]) == ("warn", False)
    used = round(budi["bytes"] / 1048576, 2)
    assert budi["warning"] == (
        f"bandwidth this month {used:g} MB is over the quota of 1 MB: its sites are still served"
    )
    assert joko["warning"].endswith("its sites answer 509 Bandwidth Limit Exceeded")
    # One vhost change (joko's) for the count that crossed the quota, none for budi's or
    # for the counts after it; so one reload (by the coalescing timer or this flush).
    sites.reloader.flush()
    assert sites.reloader.requested["nginx"] - marks == 1
    assert sites.reloader.reloads["nginx"] - reloads == 1
    blocked = sites.until("joko.example.com", 509)
    assert "Bandwidth Limit Exceeded" in blocked.text
    assert "joko" not in blocked.text
    assert "Bandwidth Limit Exceeded" in sites.until("www.joko.example.com", 509).text
    assert sites.get("budi.example.com").status_code == 200
    # Journaled once each (the audit log copies the journal), however often counted.
    assert [(e["target"], e["actor"]) for e in sites.journal("bandwidth_over")] == [
        ("joko", "test"),
        ("budi", "test"),
    ]

    # Raising the quota serves the site again at once (the change renders the vhost).
    sites.op("update_user_config", username="joko", limits={"bandwidth_quota_mb": 100})
    sites.reloader.flush()
    assert sites.until("joko.example.com", 200).text == "x" * PAGE_BYTES
    assert sites.op("user_stats", username="joko")["bandwidth"]["over"] is False
    assert [e["target"] for e in sites.journal("bandwidth_restored")] == ["joko"]

    # Back under a small quota: blocked again by the next count; then a new month.
    sites.op("update_user_config", username="joko", limits={"bandwidth_quota_mb": 1})
    sites.op("user_stats", username="joko")
    sites.reloader.flush()
    sites.until("joko.example.com", 509)
    counts = state_dir(sites.ctx.settings) / "joko.json"
    state = json.loads(counts.read_text())
    state["months"] = {"2000-01": state["months"][this_month()]}  # this month's bytes: last month's
    counts.write_text(json.dumps(state))
    sites.op("reconcile", username="joko")
    sites.reloader.flush()
    # Waited for on a missing page: a few hundred bytes each, not the 300 KB index.
    sites.until("joko.example.com", 404, "/nothing-here")
    assert sites.op("user_stats", username="joko")["bandwidth"]["blocked"] is False


def test_the_action_defaults_to_warn_and_old_files_stay_valid(sites: Sites) -> None:
    limits = sites.ctx.settings.users_dir / "budi/limits.json"
    data = json.loads(limits.read_text())
    del data["bandwidth_over_action"]  # a limits.json written before the field existed
    from jopanel.schemas import Limits

    assert Limits.model_validate(data).bandwidth_over_action == "warn"
    with pytest.raises(Exception, match="bandwidth_over_action"):
        sites.op("update_user_config", username="budi", limits={"bandwidth_over_action": "drop"})


def test_a_package_change_of_the_action_reaches_its_accounts(sites: Sites) -> None:
    sites.op("package_update", name="silver", values={"bandwidth_over_action": "block"})
    assert sites.ctx.store.read("budi").limits.bandwidth_over_action == "block"
    assert sites.op("package_get", name="silver")["bandwidth_over_action"] == "block"
