"""The real nginx and php-fpm serve an account's sites from the generated files, on loopback.

Both masters are started as root from the sandbox's generated main configs; nginx's
workers run as www-data and the pool's as the account (made resolvable from ROOT's passwd
with libnss-wrapper), so the test also proves the permissions: www-data reaches the
document roots through the ACLs, the account's PHP runs with the account's uid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.hosting import Hosting
from jopanel.agent.registry import OpResult, execute
from jopanel.settings import Settings, load_settings
from jopanel.system.nginx import Nginx
from jopanel.system.phpfpm import PhpFpm, nss_wrapper_env
from jopanel.system.runner import Runner

SITES = {
    "joko.example.com": "home/joko/public_html",
    "shop.example.org": "home/joko/domains/shop.example.org/public_html",
    "blog.joko.example.com": "home/joko/domains/joko.example.com/subdomains/blog",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)  # graceful for both nginx and php-fpm
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_op(ctx: AgentContext, name: str, **payload: object) -> OpResult:
    return execute(ctx, name, payload, actor="test")


class Web:
    """Fetch by Host header from the sandbox's nginx."""

    def __init__(self, port: int) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

    def get(self, host: str, path: str = "/") -> httpx.Response:
        # A fresh connection each time: a reload retires the workers holding idle ones.
        return self.client.get(path, headers={"Host": host, "Connection": "close"})

    def until(
        self, host: str, path: str, expect: Callable[[httpx.Response], bool]
    ) -> httpx.Response:
        last: list[httpx.Response] = []

        def ok() -> bool:
            try:
                last[:] = [self.get(host, path)]
            except httpx.TransportError:  # nginx between configs: try again
                return False
            return expect(last[0])

        wait_for(ok, f"http://{host}{path}")
        return last[0]


@pytest.fixture
def daemons(open_root: Path) -> Iterator[tuple[Settings, Web]]:
    """An account with three sites, served by real nginx + php-fpm; both stopped after."""
    root = open_root
    port = free_port()
    base = load_settings(root, http_port=port)
    ctx = AgentContext(base)
    run_op(ctx, "create_user", username="joko", password="correct horse 1",
           contact_email="joko@example.com", primary_domain="joko.example.com")  # fmt: skip
    run_op(ctx, "domain_add", username="joko", domain="shop.example.org")
    run_op(ctx, "domain_add", username="joko", domain="blog.joko.example.com", type="subdomain")
    for host, docroot in SITES.items():
        page = root / docroot / "index.html"
        page.write_text(f"<h1>{host} by joko</h1>\n")
        os.chown(page, 20000, 20000)
    info = root / SITES["joko.example.com"] / "whoami.php"
    info.write_text("<?php echo 'uid=' . posix_geteuid() . ' gid=' . posix_getegid();\n")
    os.chown(info, 20000, 20000)

    runner = Runner()
    nginx = Nginx(base, runner)
    fpm = PhpFpm(base, runner, "8.2")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **nss_wrapper_env(base)}
    php = subprocess.Popen(
        ["php-fpm8.2", "-F", "-y", str(fpm.main_config)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    web = subprocess.Popen(
        ["nginx", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log), "-c", str(nginx.main_config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: fpm.socket("joko").exists(), "the PHP-FPM socket")
        wait_for(lambda: (root / "run/nginx.pid").exists(), "nginx")
        # Now reloads signal these two daemons (and never anything of the host's).
        settings = load_settings(
            root, http_port=port, nginx_reload=nginx.signal_argv("reload"),
            phpfpm_reload=["kill", "-USR2", str(php.pid)],
        )  # fmt: skip
        client = Web(port)
        yield settings, client
        client.client.close()
    finally:
        stop(web)
        stop(php)
        assert web.poll() is not None and php.poll() is not None


def test_sites_php_suspend_unsuspend_and_unknown_hosts(daemons: tuple[Settings, Web]) -> None:
    settings, web = daemons
    for host in SITES:
        page = web.until(host, "/", lambda r: r.status_code == 200)
        assert page.text == f"<h1>{host} by joko</h1>\n"
    whoami = web.get("joko.example.com", "/whoami.php")
    assert (whoami.status_code, whoami.text) == (200, "uid=20000 gid=20000")

    logs = settings.path("var/log/nginx/domains")
    for host in SITES:  # one access log per domain
        assert '"GET / HTTP/1.1" 200' in (logs / f"{host}.access.log").read_text()
    assert "whoami.php" not in (logs / "shop.example.org.access.log").read_text()

    stranger = web.get("nobody-owns-this.example.net")
    assert stranger.status_code == 404
    assert "joko" not in stranger.text

    ctx = AgentContext(settings)
    reloader = Hosting(ctx).reloader
    run_op(ctx, "suspend_user", username="joko")
    assert sorted(reloader.flush()) == ["nginx", "php-fpm:8.2"]  # the pool is stopped too
    for host in SITES:
        page = web.until(host, "/", lambda r: r.status_code == 503)
        assert "Account suspended" in page.text
        assert "joko" not in page.text
    assert web.get("joko.example.com", "/whoami.php").status_code == 503
    pool_socket = settings.path("run/php/jopanel-joko.sock")
    wait_for(lambda: not pool_socket.exists(), "the suspended account's pool to stop")

    run_op(ctx, "unsuspend_user", username="joko")
    assert sorted(reloader.flush()) == ["nginx", "php-fpm:8.2"]
    for host in SITES:
        page = web.until(host, "/", lambda r: r.status_code == 200)
        assert page.text == f"<h1>{host} by joko</h1>\n"
    wait_for(pool_socket.exists, "the pool to come back")
    whoami = web.until("joko.example.com", "/whoami.php", lambda r: r.status_code == 200)
    assert whoami.text == "uid=20000 gid=20000"
    assert web.get("nobody-owns-this.example.net").status_code == 404
