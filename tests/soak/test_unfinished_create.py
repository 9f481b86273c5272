"""A create_user cut short by the agent's death is rolled back (found by the soak harness):
killed after the config was written, it used to leave an account with no password whose
name a retried create refused as taken."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.agent.unfinished import marker_dir
from jopanel.settings import Settings, load_settings
from tests.conftest import JOPANEL, cli, new_user

PASSWORD = "pw-requested-123"


def start_agent(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [JOPANEL, "--root", str(root), "agent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    sock = root / "run/jopanel/agent.sock"
    deadline = time.monotonic() + 30
    while not sock.exists() or proc.poll() is not None:
        assert proc.poll() is None and time.monotonic() < deadline, "the agent did not start"
        time.sleep(0.05)
    return proc


def create(root: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    args = ["user", "create", "joko", "--domain", "joko.example.com",
            "--email", "joko@example.com", "--password-stdin"]  # fmt: skip
    proc = subprocess.Popen(
        [JOPANEL, "--root", str(root), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(PASSWORD + "\n")
    proc.stdin.close()
    proc.stdin = None  # communicate() then only reads
    return proc


def test_an_agent_killed_inside_create_rolls_it_back_when_it_starts(
    root: Path, tmp_path: Path
) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "useradd").write_text('#!/bin/sh\nsleep 30\nexec /usr/sbin/useradd "$@"\n')
    (shim / "useradd").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}
    agent = start_agent(root, {**env, "JOPANEL_COMMAND_PATH": str(shim)})
    creating = create(root, env)
    config = root / "etc/jopanel/users/joko"
    deadline = time.monotonic() + 30
    while not config.exists():  # the config is written, useradd is asleep in the shim
        assert time.monotonic() < deadline
        time.sleep(0.05)
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    creating.communicate(timeout=30)
    assert creating.returncode == 6  # agent unreachable: no answer
    assert config.is_symlink() and (marker_dir(load_settings(root)) / "joko").exists()
    agent = start_agent(root, env)
    try:
        deadline = time.monotonic() + 30
        marker = marker_dir(load_settings(root)) / "joko"
        while marker.exists():  # rolled back (then unmarked) before the agent serves
            assert time.monotonic() < deadline, "the unfinished create was not rolled back"
            time.sleep(0.05)
        assert "joko:" not in (root / "etc/group").read_text()
        assert "joko:" not in (root / "etc/passwd").read_text()
        assert not config.exists()
        retry = create(root, env)
        _out, err = retry.communicate(timeout=120)
        assert retry.returncode == 0, err
        check = cli(root, "--json", "user", "show", "joko")
        assert '"status": "active"' in check.stdout
        ctx = AgentContext(load_settings(root))
        verified = execute(ctx, "verify_password", {"username": "joko", "password": PASSWORD})
        assert verified.data
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)


def test_reconcile_rolls_back_a_marked_create_and_only_once(settings: Settings) -> None:
    ctx = AgentContext(settings)

    def op(name: str, **payload: object) -> object:
        return execute(ctx, name, payload, actor="test")

    new_user(lambda n, dry_run=False, **p: execute(ctx, n, p, actor="test", dry_run=dry_run))
    assert not list(marker_dir(settings).iterdir())  # a finished create leaves no marker
    (marker_dir(settings) / "joko").touch()  # as if it had died before returning
    dry = execute(ctx, "reconcile", {}, actor="test", dry_run=True)
    assert "roll back the unfinished create of joko" in dry.plan
    assert ctx.store.exists("joko")
    op("reconcile")
    assert not ctx.store.exists("joko")
    assert "joko:" not in (settings.root / "etc/passwd").read_text()
    again = execute(ctx, "reconcile", {}, actor="test", dry_run=True)
    assert again.plan == []


def test_an_agent_killed_inside_delete_finishes_it_when_it_starts(
    root: Path, tmp_path: Path
) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "userdel").write_text('#!/bin/sh\nsleep 30\nexec /usr/sbin/userdel "$@"\n')
    (shim / "userdel").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}
    cli(root, "user", "create", "joko", "--domain", "joko.example.com",
        "--email", "joko@example.com", "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    agent = start_agent(root, {**env, "JOPANEL_COMMAND_PATH": str(shim)})
    deleting = subprocess.Popen(
        [JOPANEL, "--root", str(root), "user", "delete", "joko"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    config = root / "etc/jopanel/users/joko"
    deadline = time.monotonic() + 30
    while config.exists():  # archived first; userdel is asleep in the shim
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    assert deleting.wait(timeout=30) == 6
    assert "joko:" in (root / "etc/passwd").read_text()  # what the dead delete left
    marker = marker_dir(load_settings(root), "delete") / "joko"
    assert marker.exists()
    agent = start_agent(root, env)
    try:
        deadline = time.monotonic() + 30
        while marker.exists():
            assert time.monotonic() < deadline, "the unfinished delete was not finished"
            time.sleep(0.05)
        assert not config.exists()
        assert "joko:" not in (root / "etc/passwd").read_text()
        assert "joko:" not in (root / "etc/group").read_text()
        assert not (root / "home/joko").exists()
        cli(root, "user", "create", "joko", "--domain", "joko.example.com",
            "--email", "joko@example.com", "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)


def test_reconcile_finishes_an_archived_delete(settings: Settings) -> None:
    ctx = AgentContext(settings)
    new_user(lambda n, dry_run=False, **p: execute(ctx, n, p, actor="test", dry_run=dry_run))
    ctx.store.archive("joko")  # as if delete_user had died right after its first step
    (marker_dir(settings, "delete")).mkdir(parents=True, exist_ok=True)
    (marker_dir(settings, "delete") / "joko").touch()
    dry = execute(ctx, "reconcile", {}, actor="test", dry_run=True)
    assert "finish the unfinished delete of joko" in dry.plan
    assert "joko:" in (settings.root / "etc/passwd").read_text()
    execute(ctx, "reconcile", {}, actor="test")
    assert not ctx.store.exists("joko")
    assert "joko:" not in (settings.root / "etc/passwd").read_text()
    assert not (settings.root / "home/joko").exists()
    assert execute(ctx, "reconcile", {}, actor="test", dry_run=True).plan == []
