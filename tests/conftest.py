"""Shared fixtures: every test gets its own sandbox root built by the real `init`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import OpResult, execute
from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root

JOPANEL = str(Path(sys.executable).with_name("jopanel"))


def pytest_configure(config: pytest.Config) -> None:
    """One short temp base per run: a sandbox root's Unix sockets (PHP-FPM's pools, the
    agent's) and crontab paths must fit in 108 bytes, also with xdist's `popen-gwN/` and a
    30-character test name below it. Workers get their folder under the controller's."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="jpt-", dir="/tmp")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A green run leaves nothing in /tmp; a red one keeps its roots to look at."""
    own = session.config.stash.get(_OWN_BASETEMP, None)
    if own is not None and exitstatus == 0:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may fall back to the real root through the environment."""
    for key in list(os.environ):
        if key.startswith("JOPANEL_"):
            monkeypatch.delenv(key)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    sandbox = tmp_path / "root"
    init_root(load_settings(sandbox))
    return sandbox


@pytest.fixture
def settings(root: Path) -> Settings:
    return load_settings(root)


@pytest.fixture
def ctx(settings: Settings) -> AgentContext:
    return AgentContext(settings)


Op = Callable[..., OpResult]


@pytest.fixture
def op(ctx: AgentContext) -> Op:
    """Run an agent op in-process: op("create_user", username=..., dry_run=False)."""

    def run(op_name: str, /, dry_run: bool = False, **payload: Any) -> OpResult:
        return execute(ctx, op_name, payload, actor="test", dry_run=dry_run)

    return run


def new_user(
    op: Op, name: str = "joko", password: str = "correct horse 1", **extra: Any
) -> OpResult:
    return op(
        "create_user",
        username=name,
        password=password,
        contact_email=f"{name}@example.com",
        primary_domain=f"{name}.example.com",
        **extra,
    )


def cli(
    root: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `jopanel` console script against `root` (`env` adds variables)."""
    proc = subprocess.run(
        [JOPANEL, "--root", str(root), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"jopanel {' '.join(args)} failed: {proc.stderr}")
    return proc
