"""The one command runner, driven with real harmless child processes."""

from __future__ import annotations

import logging

import pytest

from jopanel.errors import CommandFailed
from jopanel.system.runner import Runner, Secret


def test_runs_argv_without_a_shell() -> None:
    done = Runner().run(["echo", "a;id", "$(whoami)", "`x`"])
    assert done.stdout == "a;id $(whoami) `x`\n"
    assert done.argv[0] == "/usr/bin/echo"


def test_environment_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKY_SECRET", "x")
    env = Runner().run(["env"]).stdout.splitlines()
    assert "LEAKY_SECRET=x" not in env
    assert any(line.startswith("PATH=/usr/local/sbin") for line in env)


def test_failure_is_typed_with_exit_code_and_output() -> None:
    with pytest.raises(CommandFailed) as info:
        Runner().run(["sh", "-c", "echo oops >&2; exit 3"])
    assert info.value.returncode == 3
    assert "oops" in info.value.output
    assert "exited 3: oops" in info.value.message


def test_timeout_is_enforced() -> None:
    with pytest.raises(CommandFailed, match="timed out"):
        Runner().run(["sleep", "5"], timeout=0.2)


def test_secrets_are_masked_in_logs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jopanel.runner")
    done = Runner().run(["echo", Secret("hunter2")])
    assert done.stdout == "hunter2\n"
    assert done.argv[1] == "****"
    assert "hunter2" not in caplog.text
    with pytest.raises(CommandFailed) as info:
        Runner().run(["false", Secret("hunter2")])
    assert "hunter2" not in " ".join(info.value.argv)


def test_missing_binary() -> None:
    with pytest.raises(CommandFailed, match="not installed"):
        Runner().run(["no-such-binary-jopanel"])
