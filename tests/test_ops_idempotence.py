"""For every mutating op: dry-run changes nothing, apply changes it, re-apply reports no change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Op, new_user
from tests.test_rollback import snapshot

CASES: list[tuple[str, dict[str, Any]]] = [
    ("suspend_user", {"username": "joko"}),
    ("update_user_config", {"username": "joko", "account": {"contact_email": "n@example.org"}}),
    ("update_user_config", {"username": "joko", "limits": {"max_subdomains": 42}}),
    ("update_user_config", {"username": "joko", "account": {"shell": "/bin/sh"}}),
    ("update_user_config", {"username": "joko", "meta": {"notes": "VIP customer"}}),
    ("package_update", {"name": "default", "values": {"max_databases": 9}}),
]


@pytest.mark.parametrize(
    ("op_name", "payload"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_dry_run_then_apply_then_reapply(
    op: Op, root: Path, op_name: str, payload: dict[str, Any]
) -> None:
    new_user(op, "joko")
    before = snapshot(root)
    package_before = (root / "etc/jopanel/packages/default.json").read_text()

    planned = op(op_name, dry_run=True, **payload)
    assert planned.dry_run is True
    assert planned.changed is False  # a dry run changes nothing; its plan says what would
    assert planned.plan
    assert snapshot(root) == before
    assert (root / "etc/jopanel/packages/default.json").read_text() == package_before

    assert op(op_name, **payload).changed is True
    assert op(op_name, **payload).changed is False


def test_create_dry_run_writes_nothing(op: Op, root: Path) -> None:
    before = snapshot(root)
    result = new_user_dry(op)
    assert result.changed is False  # the issue: a dry run reports no change, only its plan
    assert any("useradd" in step for step in result.plan)
    assert snapshot(root) == before


def new_user_dry(op: Op) -> Any:
    return op(
        "create_user",
        dry_run=True,
        username="joko",
        password="correct horse 1",
        contact_email="joko@example.com",
        primary_domain="joko.example.com",
    )


def test_delete_dry_run_removes_nothing(op: Op, root: Path) -> None:
    new_user(op, "joko")
    before = snapshot(root)
    result = op("delete_user", dry_run=True, username="joko")
    assert "userdel joko" in result.plan
    assert snapshot(root) == before


def test_stale_revision_refused_and_nothing_written(op: Op, root: Path) -> None:
    from jopanel.errors import StaleRevision

    new_user(op, "joko")
    first = op("get_config", username="joko").data["revision"]
    op("update_user_config", username="joko", account={"contact_email": "a@example.org"})
    before = snapshot(root)
    with pytest.raises(StaleRevision):
        op(
            "update_user_config",
            username="joko",
            expected_revision=first,
            account={"contact_email": "b@example.org"},
        )
    assert snapshot(root) == before


def test_rollback_restores_an_earlier_revision(op: Op) -> None:
    new_user(op, "joko")
    op("update_user_config", username="joko", account={"contact_email": "a@example.org"})
    op("user_rollback", username="joko", seq=1)
    config = op("get_config", username="joko").data
    assert config["account"]["contact_email"] == "joko@example.com"
    history = op("user_history", username="joko").data
    assert [h["action"] for h in history] == ["create", "update_user", "rollback:1"]
    assert op("user_diff", username="joko", old=2, new=3).data[0]["path"] == "account.contact_email"
