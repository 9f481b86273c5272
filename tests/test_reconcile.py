"""reconcile: drift between config and system is found, listed by --dry-run, and repaired."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from tests.conftest import Op, cli, new_user
from tests.test_rollback import snapshot


def _set_passwd_field(root: Path, name: str, index: int, value: str) -> None:
    path = root / "etc/passwd"
    lines = []
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            fields[index] = value
        lines.append(":".join(fields))
    path.write_text("\n".join(lines) + "\n")


def drift_shell(ctx: AgentContext, root: Path) -> None:
    ctx.accounts.set_shell("joko", "/bin/sh")


def drift_locked(ctx: AgentContext, root: Path) -> None:
    ctx.accounts.lock("joko")


def drift_home_mode(ctx: AgentContext, root: Path) -> None:
    os.chmod(root / "home/joko", 0o755)


def drift_home_owner(ctx: AgentContext, root: Path) -> None:
    os.chown(root / "home/joko", 0, 0)


def drift_home_missing(ctx: AgentContext, root: Path) -> None:
    shutil.rmtree(root / "home/joko")


def drift_user_missing(ctx: AgentContext, root: Path) -> None:
    ctx.accounts.userdel("joko")


def drift_uid(ctx: AgentContext, root: Path) -> None:
    ctx.accounts.set_ids("joko", 20050, 20000)


def drift_gid(ctx: AgentContext, root: Path) -> None:
    ctx.accounts.set_ids("joko", 20000, 20060)


DRIFTS: dict[str, tuple[Callable[[AgentContext, Path], None], str]] = {
    "shell": (drift_shell, "shell /bin/sh, want /bin/bash"),
    "locked": (drift_locked, "password is locked"),
    "home_mode": (drift_home_mode, "home is 20000:20000 755, want 20000:20000 750"),
    "home_owner": (drift_home_owner, "home is 0:0 750, want 20000:20000 750"),
    "home_missing": (drift_home_missing, "home /home/joko is missing"),
    "user_missing": (drift_user_missing, "Linux user joko is missing"),
    "uid": (drift_uid, "uid/gid 20050/20000, config says 20000/20000"),
    "gid": (drift_gid, "uid/gid 20000/20060, config says 20000/20000"),
}


@pytest.mark.parametrize("kind", sorted(DRIFTS))
def test_drift_is_listed_then_repaired_then_gone(
    op: Op, ctx: AgentContext, root: Path, kind: str
) -> None:
    new_user(op, "joko")
    clean = snapshot(root)
    make_drift, expected = DRIFTS[kind]
    make_drift(ctx, root)
    drifted = snapshot(root)

    planned = op("reconcile", dry_run=True, username="joko")
    assert planned.changed is False and planned.plan  # dry run: the plan, nothing changed
    assert expected in planned.plan[0]
    assert snapshot(root) == drifted  # dry-run changed nothing

    repaired = op("reconcile", username="joko")
    assert repaired.changed is True
    assert op("reconcile", username="joko").changed is False  # idempotent
    after = snapshot(root)
    assert after["configs"] == clean["configs"]
    entry = ctx.accounts.get("joko")
    assert entry is not None and (entry.uid, entry.gid, entry.shell) == (20000, 20000, "/bin/bash")
    home = ctx.accounts.home_state("joko")
    assert (home.exists, home.uid, home.mode) == (True, 20000, 0o750)
    if kind != "user_missing":  # a recreated user has no password to unlock
        assert ctx.accounts.is_locked("joko") is False


def test_suspended_config_relocks_an_unlocked_account(op: Op, ctx: AgentContext) -> None:
    new_user(op, "joko")
    op("suspend_user", username="joko")
    ctx.accounts.unlock("joko")
    ctx.accounts.set_shell("joko", "/bin/bash")
    assert op("reconcile", username="joko").changed is True
    assert ctx.accounts.is_locked("joko") is True
    assert ctx.accounts.get("joko").shell == "/usr/sbin/nologin"  # type: ignore[union-attr]


def _edit(root: Path, file: str, **changes: object) -> None:
    path = root / "etc/jopanel/users/joko" / file
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def test_valid_hand_edit_is_adopted(op: Op, root: Path) -> None:
    new_user(op, "joko")
    _edit(root, "account.json", contact_email="hand@example.org", shell="/bin/sh")
    planned = op("reconcile", dry_run=True, username="joko")
    assert "edited by hand" in planned.plan[0]
    result = op("reconcile", username="joko")
    assert result.changed is True
    inspection = AgentContext(op.__closure__[0].cell_contents.settings).store.inspect("joko")  # type: ignore[index, union-attr]
    assert inspection.consistent
    config = op("get_config", username="joko").data
    assert config["account"]["contact_email"] == "hand@example.org"
    assert config["meta"]["audit"]["last_action"] == "reconcile:adopt"
    assert op("reconcile", username="joko").changed is False


@pytest.mark.parametrize(
    ("file", "changes", "field"),
    [
        ("limits.json", {"max_subdomains": -1}, "limits.max_subdomains"),
        ("account.json", {"shell": "/bin/evil"}, "account.shell"),
        ("account.json", {"surprise": 1}, "account.surprise"),
        ("domains.json", {"primary": "bad domain;"}, "domains.primary"),
    ],
)
def test_invalid_hand_edit_is_reported_not_applied(
    op: Op, root: Path, file: str, changes: dict[str, object], field: str
) -> None:
    new_user(op, "joko")
    _edit(root, file, **changes)
    before = snapshot(root)
    report = op("reconcile", username=None).data[0]
    assert report["username"] == "joko"
    assert report["error"].startswith(field)
    assert report["changes"] == []
    assert snapshot(root) == before


def test_cli_reconcile_dry_run_and_json(op: Op, ctx: AgentContext, root: Path) -> None:
    new_user(op, "joko")
    ctx.accounts.set_shell("joko", "/bin/sh")
    shown = cli(root, "reconcile", "--dry-run")
    assert "would repair" in shown.stdout
    assert ctx.accounts.get("joko").shell == "/bin/sh"  # type: ignore[union-attr]
    data = json.loads(cli(root, "--json", "reconcile").stdout)
    assert data["changed"] is True
    assert json.loads(cli(root, "--json", "reconcile").stdout)["changed"] is False
