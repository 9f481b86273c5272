"""Failure injected before every step of create, update and delete: nothing half-done remains."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.flow import InjectedFault
from jopanel.agent.registry import execute
from jopanel.errors import CommandFailed
from jopanel.settings import load_settings
from jopanel.system.runner import Completed, Runner
from tests.conftest import Op, new_user

CREATE = {
    "username": "joko",
    "password": "correct horse 1",
    "contact_email": "joko@example.com",
    "primary_domain": "joko.example.com",
}


def snapshot(root: Path) -> dict[str, Any]:
    """Everything a create/update/delete may touch, as comparable values."""
    files = {}
    for relative in ("etc/passwd", "etc/shadow", "etc/group", "etc/gshadow"):
        files[relative] = (root / relative).read_text()
    users = root / "etc/jopanel/users"
    configs = {
        p.name: {f.name: f.read_text() for f in sorted(p.resolve().iterdir())}
        for p in sorted(users.iterdir())
        if not p.name.startswith(".")
    }
    claims = {p.name: str(p.readlink()) for p in sorted((root / "etc/jopanel/domains").iterdir())}
    homes = sorted(str(p.relative_to(root)) for p in (root / "home").rglob("*"))
    return {"files": files, "configs": configs, "claims": claims, "homes": homes}


def faulty(root: Path, point: str) -> Op:
    ctx = AgentContext(load_settings(root, fault_point=point))

    def run(op_name: str, /, **payload: Any) -> Any:
        return execute(ctx, op_name, payload, actor="test")

    return run


def steps_of(op: Op, op_name: str, **payload: Any) -> list[str]:
    steps: list[str] = op(op_name, dry_run=True, **payload).data["steps"]
    return steps


def test_create_steps_are_the_expected_ones(op: Op) -> None:
    assert steps_of(op, "create_user", **CREATE)[:5] == [
        "claim_domains",
        "write_config",
        "groupadd",
        "useradd",
        "set_password",
    ]


@pytest.mark.parametrize(
    "step", ["claim_domains", "write_config", "groupadd", "useradd", "set_password", "apply"]
)
def test_create_failure_leaves_nothing(root: Path, op: Op, step: str) -> None:
    assert step in steps_of(op, "create_user", **CREATE)
    before = snapshot(root)
    with pytest.raises(InjectedFault):
        faulty(root, f"create_user:{step}")("create_user", **CREATE)
    assert snapshot(root) == before
    assert not (root / "etc/jopanel/users/.revisions/joko").exists()
    # and the same create then succeeds
    assert op("create_user", **CREATE).changed is True


def test_every_create_step_is_covered(op: Op) -> None:
    covered = {"claim_domains", "write_config", "groupadd", "useradd", "set_password", "apply"}
    assert set(steps_of(op, "create_user", **CREATE)) <= covered | {"services"}


@pytest.mark.parametrize("step", ["archive_config", "release_domains", "userdel", "remove_home"])
def test_delete_failure_keeps_the_account(root: Path, op: Op, step: str) -> None:
    new_user(op, "joko")
    steps = steps_of(op, "delete_user", username="joko")
    assert step in steps
    before = snapshot(root)
    with pytest.raises(InjectedFault):
        faulty(root, f"delete_user:{step}")("delete_user", username="joko")
    after = snapshot(root)
    assert after["configs"] == before["configs"]
    assert after["claims"] == before["claims"]
    assert after["homes"] == before["homes"]
    assert after["files"]["etc/passwd"] == before["files"]["etc/passwd"]
    assert (
        after["files"]["etc/shadow"].splitlines()[-1]
        == before["files"]["etc/shadow"].splitlines()[-1]
    )
    assert "joko:" in after["files"]["etc/group"]
    assert op("get_config", username="joko").data["account"]["username"] == "joko"


@pytest.mark.parametrize("step", ["write_config", "apply"])
def test_update_failure_restores_config_and_system(root: Path, op: Op, step: str) -> None:
    new_user(op, "joko")
    before = snapshot(root)
    revision = op("get_config", username="joko").data["revision"]
    with pytest.raises(InjectedFault):
        faulty(root, f"suspend_user:{step}")("suspend_user", username="joko")
    assert snapshot(root) == before
    assert op("get_config", username="joko").data["revision"] == revision


def test_update_domain_change_failure_releases_new_claim(root: Path, op: Op) -> None:
    new_user(op, "joko")
    before = snapshot(root)
    with pytest.raises(InjectedFault):
        faulty(root, "update_user:apply")(
            "update_user_config", username="joko", account={"primary_domain": "new.example.org"}
        )
    assert snapshot(root) == before


class FailsAfter(Runner):
    """The real commands; the named ones run, succeed, and are then reported failed (a
    command that did its work and died before saying so)."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)

    def run(self, argv: Sequence[str], **kwargs: Any) -> Completed:
        done = super().run(argv, **kwargs)
        if Path(str(argv[0])).name in self.names:
            raise CommandFailed(f"{argv[0]} failed after its work", argv=list(argv),
                                returncode=1, output="")  # fmt: skip
        return done


@pytest.mark.parametrize("command", ["groupadd", "useradd", "chpasswd"])
def test_create_rolls_back_a_command_that_worked_then_failed(root: Path, command: str) -> None:
    before = snapshot(root)
    ctx = AgentContext(load_settings(root), runner=FailsAfter(command))
    with pytest.raises(CommandFailed):
        execute(ctx, "create_user", dict(CREATE), actor="test")
    assert snapshot(root) == before
