"""Security review findings: what shadow-utils sees on its command line.

Commands are observed through a Runner subclass that records every argv and then runs it
for real on the sandbox root.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import OpResult, execute
from jopanel.errors import ValidationFailed
from jopanel.settings import Settings
from jopanel.system.accounts import SystemAccounts
from jopanel.system.runner import Completed, Runner
from tests.conftest import Op, new_user

SHADOW_UTILS = {"useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod"}


class RecordingRunner(Runner):
    """Runs every command for real and keeps its argv (as given) and its stdin."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def run(self, argv: Sequence[str], *, input: str | None = None, **kwargs: Any) -> Completed:
        self.calls.append(([str(a) for a in argv], input))
        return super().run(argv, input=input, **kwargs)

    def argvs(self, *tools: str) -> list[list[str]]:
        return [argv for argv, _ in self.calls if argv[0].rsplit("/", 1)[-1] in tools]


@pytest.fixture
def recorder() -> RecordingRunner:
    return RecordingRunner()


@pytest.fixture
def rec_op(settings: Settings, recorder: RecordingRunner) -> Op:
    ctx = AgentContext(settings, runner=recorder)

    def run(op_name: str, /, dry_run: bool = False, **payload: Any) -> OpResult:
        return execute(ctx, op_name, payload, actor="test", dry_run=dry_run)

    return run


def _shadow_field(root: Path, name: str) -> str | None:
    for line in (root / "etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields[1]
    return None


# --- 1. password hashes never reach an argv --------------------------------------------
def test_set_hash_installs_the_hash_in_shadow(settings: Settings, root: Path) -> None:
    new_hash = "$6$saltsalt$" + "A" * 86
    recorder = RecordingRunner()
    accounts = SystemAccounts(settings, recorder)
    accounts.groupadd("joko", 20000)
    accounts.useradd("joko", 20000, 20000, "/bin/bash")

    accounts.set_hash("joko", new_hash)

    assert _shadow_field(root, "joko") == new_hash
    assert accounts.shadow_hash("joko") == new_hash
    for argv, _stdin in recorder.calls:
        assert not any(new_hash in arg for arg in argv), argv
    assert [stdin for _, stdin in recorder.calls if stdin and new_hash in stdin]


def test_no_password_hash_in_any_argv_of_an_account_lifecycle(
    rec_op: Op, recorder: RecordingRunner, root: Path
) -> None:
    new_user(rec_op, "joko", password="correct horse 1")
    first = _shadow_field(root, "joko")
    rec_op("set_password", username="joko", password="another secret 2")
    second = _shadow_field(root, "joko")
    rec_op("suspend_user", username="joko")
    rec_op("set_password", username="joko", password="third secret 3")
    third = _shadow_field(root, "joko")
    rec_op("unsuspend_user", username="joko")

    hashes = {h.lstrip("!") for h in (first, second, third) if h}
    assert len(hashes) == 3 and all(h.startswith("$") for h in hashes)
    for argv, _stdin in recorder.calls:
        for hashed in hashes:
            assert not any(hashed in arg for arg in argv), argv
        assert not any(arg == "-p" for arg in argv if argv[0].endswith("usermod")), argv


@pytest.mark.parametrize(
    "hashed", ["$6$abc$x\nroot:$6$abc$y", "$6$abc$x:0:0", "$6$abc$x\r", "", "plain\0"]
)
def test_set_hash_refuses_a_hash_that_would_add_a_chpasswd_line(
    settings: Settings, root: Path, hashed: str
) -> None:
    accounts = SystemAccounts(settings, Runner())
    accounts.groupadd("joko", 20000)
    accounts.useradd("joko", 20000, 20000, "/bin/bash")
    shadow = (root / "etc/shadow").read_text()

    with pytest.raises(ValidationFailed):
        accounts.set_hash("joko", hashed)

    assert (root / "etc/shadow").read_text() == shadow


# --- 2. "--" before the name in every shadow-utils argv --------------------------------
def test_every_shadow_utils_argv_ends_options_before_the_name(
    rec_op: Op, recorder: RecordingRunner, settings: Settings
) -> None:
    new_user(rec_op, "joko")
    rec_op("suspend_user", username="joko")
    rec_op("unsuspend_user", username="joko")
    rec_op("update_user_config", username="joko", account={"shell": "/bin/sh"})
    accounts = SystemAccounts(settings, recorder)
    accounts.set_ids("joko", 20010, 20010)
    accounts.lock("joko")
    accounts.unlock("joko")
    rec_op("delete_user", username="joko")  # userdel takes the user's own group along
    accounts.groupadd("jokogrp", 20020)
    accounts.groupdel("jokogrp")

    seen = recorder.argvs(*SHADOW_UTILS)
    assert {argv[0].rsplit("/", 1)[-1] for argv in seen} == SHADOW_UTILS
    for argv in seen:
        assert argv[-2] == "--" and argv[-1] in {"joko", "jokogrp"}, argv
        assert argv.count("--") == 1, argv
