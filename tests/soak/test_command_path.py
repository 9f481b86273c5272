"""Settings.command_path: in a sandbox root the runner looks there first (how the soak
harness makes `useradd` fail); the real root ignores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.errors import CommandFailed
from jopanel.settings import Settings, load_settings
from jopanel.system.runner import SAFE_PATH


def test_a_shimmed_useradd_fails_and_the_create_rolls_back(root: Path, tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "useradd").write_text("#!/bin/sh\necho 'useradd: shimmed' >&2\nexit 1\n")
    (shim / "useradd").chmod(0o755)
    ctx = AgentContext(load_settings(root, command_path=shim))
    assert ctx.runner.search_path == f"{shim}:{SAFE_PATH}"
    payload = {"username": "joko", "password": "correct horse 1",
               "contact_email": "j@example.com", "primary_domain": "joko.example.com"}  # fmt: skip
    with pytest.raises(CommandFailed, match="shimmed"):
        execute(ctx, "create_user", payload, actor="test")
    assert not ctx.store.exists("joko")
    assert "joko:" not in (root / "etc/passwd").read_text()
    assert "joko:" not in (root / "etc/group").read_text()
    assert not (root / "home/joko").exists()
    # Without the setting the real useradd runs (the shim's resolution is not cached for it).
    plain = AgentContext(load_settings(root))
    assert plain.runner.search_path == SAFE_PATH
    execute(plain, "create_user", payload, actor="test")
    assert plain.store.exists("joko")


def test_the_real_root_ignores_command_path(tmp_path: Path) -> None:
    settings = Settings(root=Path("/"), command_path=tmp_path)
    assert AgentContext(settings).runner.search_path == SAFE_PATH
