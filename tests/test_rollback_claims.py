"""`user rollback` goes through the change flow: domain claims, CAS, undo, dry-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.flow import InjectedFault
from jopanel.errors import Conflict, StaleRevision
from tests.conftest import Op, cli, new_user
from tests.test_rollback import faulty, snapshot


def generated(root: Path) -> dict[str, str]:
    """Every generated nginx/PHP-FPM/sshd file, by path."""
    files = {}
    for base in ("etc/nginx", "etc/php", "etc/ssh"):
        for path in sorted((root / base).rglob("*jopanel-*")):
            if path.is_file():
                files[str(path.relative_to(root))] = path.read_text()
    return files


def vhosts_naming(root: Path, hostname: str) -> list[str]:
    """The accounts whose nginx file has a server block for `hostname`."""
    owners = []
    for path in sorted((root / "etc/nginx/sites-available").glob("jopanel-*.conf")):
        for line in path.read_text().splitlines():
            words = line.strip().rstrip(";").split()
            if words[:1] == ["server_name"] and hostname in words[1:]:
                owners.append(path.stem.removeprefix("jopanel-"))
    return owners


def state(root: Path) -> dict[str, Any]:
    return {**snapshot(root), "generated": generated(root)}


@pytest.fixture
def alice_gave_up_x(op: Op) -> Op:
    """alice had x.test in revision 2 and removed it in revision 3."""
    new_user(op, "alice")
    op("domain_add", username="alice", domain="x.test")
    op("domain_remove", username="alice", domain="x.test")
    assert [h["seq"] for h in op("user_history", username="alice").data] == [1, 2, 3]
    return op


def test_rollback_to_a_domain_another_account_took_is_refused(
    root: Path, alice_gave_up_x: Op
) -> None:
    op = alice_gave_up_x
    new_user(op, "bob")
    op("domain_add", username="bob", domain="x.test")
    before = state(root)
    revision = op("get_config", username="alice").data["revision"]
    with pytest.raises(Conflict, match="x.test"):
        op("user_rollback", username="alice", seq=2)
    with pytest.raises(Conflict, match="x.test"):
        op("user_rollback", username="alice", seq=2, dry_run=True)
    assert state(root) == before
    assert op("get_config", username="alice").data["revision"] == revision
    assert before["claims"]["x.test"] == "bob"
    assert vhosts_naming(root, "x.test") == ["bob"]
    assert [h["seq"] for h in op("user_history", username="alice").data] == [1, 2, 3]


def test_rollback_conflict_is_exit_status_4_on_the_cli(root: Path, alice_gave_up_x: Op) -> None:
    op = alice_gave_up_x
    new_user(op, "bob")
    op("domain_add", username="bob", domain="x.test")
    before = state(root)
    proc = cli(root, "user", "rollback", "alice", "2", check=False)
    assert proc.returncode == 4, proc.stderr
    assert "x.test" in proc.stderr
    assert state(root) == before


def test_rollback_under_another_accounts_domain_is_refused(root: Path, op: Op) -> None:
    new_user(op, "alice")
    op("domain_add", username="alice", domain="shop.x.test")
    op("domain_remove", username="alice", domain="shop.x.test")
    new_user(op, "bob")
    op("domain_add", username="bob", domain="x.test")
    before = state(root)
    with pytest.raises(Conflict, match="under x.test"):
        op("user_rollback", username="alice", seq=2)
    assert state(root) == before


def test_rollback_claims_a_free_domain(root: Path, alice_gave_up_x: Op) -> None:
    op = alice_gave_up_x
    new_user(op, "bob")
    result = op("user_rollback", username="alice", seq=2)
    assert result.changed is True
    addons = op("get_config", username="alice").data["domains"]["addon_domains"]
    assert [a["domain"] for a in addons] == ["x.test"]
    assert (root / "etc/jopanel/domains/x.test").readlink() == Path("alice")
    assert vhosts_naming(root, "x.test") == ["alice"]
    with pytest.raises(Conflict):
        op("domain_add", username="bob", domain="x.test")
    history = op("user_history", username="alice").data
    assert [(h["seq"], h["action"], h["actor"]) for h in history][-1] == (4, "rollback:2", "test")
    diff = op("user_diff", username="alice", old=2, new=4).data
    assert [d["path"] for d in diff] == ["account.updated_at"]
    # Rolling back to 3 again releases it, and bob may then take it.
    op("user_rollback", username="alice", seq=3)
    assert not (root / "etc/jopanel/domains/x.test").exists()
    assert vhosts_naming(root, "x.test") == []
    op("domain_add", username="bob", domain="x.test")
    assert (root / "etc/jopanel/domains/x.test").readlink() == Path("bob")
    assert vhosts_naming(root, "x.test") == ["bob"]


def test_rollback_dry_run_changes_nothing(root: Path, alice_gave_up_x: Op) -> None:
    op = alice_gave_up_x
    before = state(root)
    result = op("user_rollback", username="alice", seq=2, dry_run=True)
    assert "claim_domains" in result.data["steps"]
    assert any("x.test" in line for line in result.plan)
    assert state(root) == before


def test_rollback_with_a_stale_revision_is_refused(root: Path, alice_gave_up_x: Op) -> None:
    op = alice_gave_up_x
    history = op("user_history", username="alice").data
    before = state(root)
    with pytest.raises(StaleRevision):
        op("user_rollback", username="alice", seq=2, expected_revision=history[1]["revision"])
    assert state(root) == before
    current = op("get_config", username="alice").data["revision"]
    op("user_rollback", username="alice", seq=2, expected_revision=current)
    assert (root / "etc/jopanel/domains/x.test").readlink() == Path("alice")


@pytest.mark.parametrize("step", ["write_config", "apply"])
def test_rollback_failure_releases_the_claim_and_restores_everything(
    root: Path, alice_gave_up_x: Op, step: str
) -> None:
    before = state(root)
    with pytest.raises(InjectedFault):
        faulty(root, f"rollback:2:{step}")("user_rollback", username="alice", seq=2)
    assert state(root) == before
