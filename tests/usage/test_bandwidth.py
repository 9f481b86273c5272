"""Bandwidth per domain from a real nginx's access logs, across a rotation.

A sandbox nginx serves two domains of one account on a loopback port; requests are made
with httpx and the bytes each response put on the wire ($bytes_sent: status line,
headers and body) are computed from what httpx received. The log is rotated the usual
way (mv, requests still landing in the renamed file, `nginx -s reopen`), with counts taken
before, during and after: every byte is counted exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jopanel.agent.bandwidth import collect, month_usage, this_month
from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.settings import load_settings
from jopanel.system.nginx import Nginx
from jopanel.system.runner import Runner
from tests.hosting.conftest import open_root  # noqa: F401 - the fixture
from tests.hosting.test_e2e import free_port, wait_for

DOMAINS = {
    "joko.example.com": "home/joko/public_html",
    "shop.example.org": "home/joko/domains/shop.example.org/public_html",
}


def wire_bytes(response: httpx.Response) -> int:
    """What nginx wrote for this response, rebuilt from what httpx read."""
    head = f"{response.http_version} {response.status_code} {response.reason_phrase}\r\n"
    size = len(head.encode()) + 2  # the blank line ending the headers
    size += sum(len(k) + 2 + len(v) + 2 for k, v in response.headers.raw)
    return size + len(response.content)


class Served:
    def __init__(self, ctx: AgentContext, nginx: Nginx, port: int) -> None:
        self.ctx, self.nginx = ctx, nginx
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
        self.sent: dict[str, int] = dict.fromkeys(DOMAINS, 0)

    def hit(self, host: str, times: int, path: str = "/") -> None:
        for _ in range(times):
            response = self.client.get(path, headers={"Host": host, "Connection": "close"})
            assert response.status_code in (200, 404)
            self.sent[host] += wire_bytes(response)

    def log(self, host: str) -> Path:
        return self.nginx.log_dir / f"{host}.access.log"

    def matches(self) -> bool:
        """nginx logs a request just after answering it: the counts catch up within a
        moment, and a line counted twice would never let them match."""
        wait_for(lambda: self.counted() == self.sent, "the counts to match what was sent")
        return self.counted() == self.sent  # and read again: nothing new, nothing twice

    def counted(self) -> dict[str, int]:
        config = self.ctx.store.read("joko")
        counted: dict[str, int] = month_usage(self.ctx, config)["bandwidth_by_domain"]
        return counted


@pytest.fixture
def served(open_root: Path) -> Iterator[Served]:  # noqa: F811 - the fixture above
    root = open_root
    port = free_port()
    settings = load_settings(root, http_port=port)
    ctx = AgentContext(settings)
    execute(ctx, "create_user", {
        "username": "joko", "password": "correct horse 1", "contact_email": "joko@example.com",
        "primary_domain": "joko.example.com"}, actor="test")  # fmt: skip
    execute(ctx, "domain_add", {"username": "joko", "domain": "shop.example.org"}, actor="test")
    uid = ctx.store.read("joko").account.uid
    for host, docroot in DOMAINS.items():
        page = root / docroot / "index.html"
        page.write_text(f"<h1>{host}</h1>\n" + "x" * (1000 if "shop" in host else 5000))
        os.chown(page, uid, uid)
    nginx = Nginx(settings, Runner())
    test = subprocess.run(
        ["nginx", "-t", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log),
         "-c", str(nginx.main_config)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert test.returncode == 0, test.stderr  # the jopanel_usage log_format is valid
    web = subprocess.Popen(
        ["nginx", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log), "-c", str(nginx.main_config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: (root / "run/nginx.pid").exists(), "nginx")
        served = Served(ctx, nginx, port)
        wait_for(lambda: _up(served), "nginx to answer")
        yield served
        served.client.close()
    finally:
        if web.poll() is None:
            web.send_signal(signal.SIGQUIT)
            web.wait(timeout=10)


def _up(served: Served) -> bool:
    try:
        served.client.get("/", headers={"Host": "nobody.invalid"})
    except httpx.TransportError:
        return False
    return True


def test_bandwidth_per_domain_across_rotation(served: Served) -> None:
    served.hit("joko.example.com", 5)
    served.hit("shop.example.org", 3)
    served.hit("shop.example.org", 2, "/missing")  # 404s are bytes too
    assert served.matches()

    # Rotation: the log is moved; nginx keeps writing to the moved file until reopen.
    log = served.log("joko.example.com")
    served.hit("joko.example.com", 2)
    assert served.matches()
    os.rename(log, log.with_name(log.name + ".1"))
    served.hit("joko.example.com", 3)  # lands in .1
    assert served.matches()  # counted while the live log is missing
    served.hit("joko.example.com", 1)  # still .1
    reopen = served.nginx.signal_argv("reopen")
    subprocess.run(reopen, check=True, capture_output=True)
    wait_for(log.exists, "nginx to reopen its logs")
    served.hit("joko.example.com", 4)  # the new file
    served.hit("shop.example.org", 1)
    assert served.matches()

    # Truncated in place (copytruncate): counting starts again at 0, nothing lost after.
    shop = served.log("shop.example.org")
    os.truncate(shop, 0)
    served.hit("shop.example.org", 2)
    assert served.matches()

    state = served.ctx.settings.path("var/lib/jopanel/bandwidth/joko.json")
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    totals = collect(served.ctx, served.ctx.store.read("joko"))
    assert set(totals) == {this_month()}
