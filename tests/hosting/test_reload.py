"""Coalesced reloads: a burst of changes costs one reload; a sandbox never signals the host."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.settings import Settings, load_settings
from jopanel.system.reload import Reloader, reloader_for
from jopanel.system.runner import Completed, Runner


class Recorder(Runner):
    """A runner that records argv and runs nothing (reload commands only)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv: Sequence[str], **_: Any) -> Completed:
        self.calls.append(list(argv))
        return Completed(list(argv), 0, "", "", 0.0)


def test_a_burst_of_marks_is_one_reload_per_service(root: Path) -> None:
    settings = load_settings(root, nginx_reload=["nginx-reload"],
                             phpfpm_reload=["fpm-reload", "{version}"])  # fmt: skip
    runner = Recorder()
    reloader = Reloader(settings, runner, quiet=0.1, max_wait=5)
    for _ in range(100):
        reloader.mark("nginx")
        reloader.mark("php-fpm:8.2")
    deadline = time.monotonic() + 5
    while reloader.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert sorted(runner.calls) == [["fpm-reload", "8.2"], ["nginx-reload"]]
    assert reloader.requested["nginx"] == 100 and reloader.reloads["nginx"] == 1


def test_flush_reloads_now_and_only_what_is_dirty(root: Path) -> None:
    runner = Recorder()
    reloader = Reloader(load_settings(root, sshd_reload=["sshd-reload"]), runner, quiet=60)
    assert reloader.flush() == []
    reloader.mark("sshd")
    assert reloader.flush() == ["sshd"]
    assert reloader.flush() == []
    assert runner.calls == [["sshd-reload"]]


def test_a_sandbox_without_commands_signals_nothing(root: Path) -> None:
    runner = Recorder()
    reloader = Reloader(load_settings(root), runner, quiet=0)
    for service in ("nginx", "php-fpm:8.2", "sshd"):
        assert reloader.command(service) is None
        reloader.mark(service)
    assert reloader.flush() == []
    assert runner.calls == []


def test_the_real_root_defaults_to_the_systemd_units() -> None:
    reloader = Reloader(Settings(root=Path("/")), Runner())
    assert reloader.command("nginx") == ["systemctl", "reload", "nginx"]
    assert reloader.command("php-fpm:8.3") == ["systemctl", "reload", "php8.3-fpm"]
    assert reloader.command("sshd") == ["systemctl", "reload", "ssh"]


def test_twenty_domain_changes_cost_one_or_two_nginx_reloads(root: Path) -> None:
    settings = load_settings(root, nginx_reload=["true"], phpfpm_reload=["true"],
                             sshd_reload=["true"])  # fmt: skip
    ctx = AgentContext(settings)
    execute(ctx, "create_user", {"username": "joko", "password": "correct horse 1",
                                 "contact_email": "j@example.com",
                                 "primary_domain": "joko.example.com"})  # fmt: skip
    execute(ctx, "update_user_config", {"username": "joko", "limits": {"max_alias_domains": 0}})
    reloader = reloader_for(settings, ctx.runner)
    reloader.flush()
    before = reloader.reloads["nginx"]
    for n in range(20):
        execute(ctx, "domain_add", {"username": "joko", "domain": f"alias{n}.example.net",
                                    "type": "alias"})  # fmt: skip
    reloader.flush()
    assert reloader.requested["nginx"] >= 21
    # One at the end of the burst, plus at most one more if it outlasted max_wait (10 s).
    assert 1 <= reloader.reloads["nginx"] - before <= 2


def test_a_held_batch_reloads_once_at_its_end(root: Path) -> None:
    runner = Recorder()
    reloader = Reloader(load_settings(root, nginx_reload=["nginx-reload"]), runner, quiet=0.01)
    with reloader.held():
        for _ in range(3):
            reloader.mark("nginx")
            time.sleep(0.05)  # longer than `quiet`: without the hold, three reloads
        assert runner.calls == []
    assert runner.calls == [["nginx-reload"]]
